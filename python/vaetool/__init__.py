"""vaetool: clusters and anomalies in tables with variational autoencoders, with scikit-learn's
habits.

    >>> from vaetool import AnomalyDetector, Clusterer
    >>> det = AnomalyDetector(contamination=0.05).fit(X)      # X: DataFrame, ndarray, Arrow,
    >>>                                                       # or images: n×h×w / n×c×h×w
    >>> det.anomaly_score(X)     # higher = more anomalous (the command line's score)
    >>> det.predict(X)           # -1 anomaly, +1 normal
    >>> labels = Clusterer(n_clusters=5).fit_predict(X)
    >>> det.save("model/")       # then: vaetool anomalies new.csv --model model/

Every default and decision is the Rust library's (the same as `vaetool anomalies` and
`vaetool cluster`): for the same seed (`random_state`) the scores and labels are the command
line's, and a model directory written by one is read by the other.
"""

import inspect
import os
import tempfile
from pathlib import Path

from . import _vaetool

__all__ = ["AnomalyDetector", "Clusterer", "__version__"]
__version__ = _vaetool.__version__


def _columns(X, where):
    """Column names and columns of X: a pandas DataFrame (names kept), a pyarrow Table or
    RecordBatch, a 2-D NumPy array or a list of rows (columns named c0, c1, … as a CSV without
    header). Numeric columns go as floats, others as text."""
    if type(X).__module__.startswith("pyarrow") and hasattr(X, "to_pandas"):  # without importing it
        X = X.to_pandas()
    if hasattr(X, "columns") and hasattr(X, "dtypes"):  # pandas
        names = [str(c) for c in X.columns]
        cols = []
        for c in X.columns:
            s = X[c]
            if s.dtype.kind in "biuf":
                cols.append(s.astype("float64").tolist())
            else:
                cols.append([None if v is None or v != v else str(v) for v in s.tolist()])
        return where, names, cols
    import numpy as np

    a = np.asarray(X)
    if a.ndim != 2:
        raise ValueError(f"{where}: expected a 2-D table, got an array of shape {a.shape}")
    names = [f"c{j}" for j in range(a.shape[1])]
    if a.dtype.kind in "biuf":
        cols = [a[:, j].astype("float64").tolist() for j in range(a.shape[1])]
    else:
        cols = [[None if v is None else str(v) for v in a[:, j].tolist()] for j in range(a.shape[1])]
    return where, names, cols


def _image_array(X):
    """(bytes, dtype, shape) when X is a NumPy array of images — n × h × w (grayscale) or
    n × c × h × w (channel first), uint8 in 0..255 or floats in [0, 1] —, else None."""
    if type(X).__module__ != "numpy" or getattr(X, "ndim", 2) not in (3, 4):
        return None
    import numpy as np

    a = X[:, None, :, :] if X.ndim == 3 else X
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a).tobytes(), "u8", tuple(a.shape)
    if a.dtype.kind == "f":
        return np.ascontiguousarray(a, dtype="<f4").tobytes(), "f32", tuple(a.shape)
    raise ValueError(f"X: images must be uint8 (0..255) or floats in [0, 1], got {a.dtype}")


class _Params:
    """get_params/set_params from the constructor's signature, as scikit-learn's BaseEstimator
    (so that sklearn.base.clone works)."""

    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep=True):
        return {p: getattr(self, p) for p in self._param_names()}

    def set_params(self, **params):
        valid = self._param_names()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for {type(self).__name__}")
            setattr(self, k, v)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _native_params(self):
        p = dict(self.get_params())
        for k in ("hidden", "categorical", "exclude"):
            if p.get(k) is not None:
                p[k] = list(p[k])
        return p

    def _check_fitted(self):
        if getattr(self, "_fitted", None) is None:
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit first")
        return self._fitted

    # pickling: the parameters and the model directory's files
    def __getstate__(self):
        state = {"params": self.get_params(), "files": None}
        fitted = getattr(self, "_fitted", None)
        if fitted is not None:
            with tempfile.TemporaryDirectory() as d:
                m = os.path.join(d, "m")
                fitted.save(m)
                state["files"] = {f.name: f.read_bytes() for f in Path(m).iterdir()}
        state["extra"] = {k: v for k, v in self.__dict__.items() if k.endswith("_") and not k.startswith("_")}
        return state

    def __setstate__(self, state):
        self.__init__(**state["params"])
        self.__dict__.update(state.get("extra", {}))
        self._fitted = None
        if state["files"] is not None:
            with tempfile.TemporaryDirectory() as d:
                m = os.path.join(d, "m")
                os.mkdir(m)
                for f, b in state["files"].items():
                    Path(m, f).write_bytes(b)
                self._fitted = self._load_native(m)


class AnomalyDetector(_Params):
    """A VAE anomaly detector with the defaults of `vaetool anomalies`: trained on the rows it
    will score (a trimmed, short training that learns the bulk of the rows), each row's score
    its negative ELBO — by default the robust one, with Student-t terms in place of the
    Gaussian's squared errors (`score="elbo"` for the plain ELBO; also "iwae", "recon"). On
    images (a 3-D array) the scores use output variances fitted on the training images
    (`output_variance="unit"` for the training likelihood's). No default moves the training
    images; augment="0.1,10" trains on images shifted by up to a tenth of their size and
    rotated by up to 10°, as the command line's --augment (images only).

    Parameters take scikit-learn's names where one exists (contamination, random_state) and
    the command line's flag names otherwise; None means the library's default.
    """

    def __init__(
        self,
        contamination=None,
        fpr=None,
        score=None,
        samples=None,
        ensemble=None,
        hidden=None,
        latent=None,
        epochs=None,
        batch_size=None,
        lr=None,
        beta=None,
        trim=None,
        arch=None,
        likelihood=None,
        output_variance=None,
        variant=None,
        scale=None,
        impute=None,
        categorical=None,
        exclude=None,
        val_fraction=None,
        device=None,
        augment=None,
        random_state=42,
    ):
        self.contamination = contamination
        self.fpr = fpr
        self.score = score
        self.samples = samples
        self.ensemble = ensemble
        self.hidden = hidden
        self.latent = latent
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.beta = beta
        self.trim = trim
        self.arch = arch
        self.likelihood = likelihood
        self.output_variance = output_variance
        self.variant = variant
        self.scale = scale
        self.impute = impute
        self.categorical = categorical
        self.exclude = exclude
        self.val_fraction = val_fraction
        self.device = device
        self.augment = augment
        self.random_state = random_state

    def _load_native(self, path):
        return _vaetool.FittedDetector.load(os.fspath(path), int(self.random_state))

    def fit(self, X, y=None, clean=False):
        """Trains on X (outliers included; `clean=True`: X holds known-good rows, as the
        command line's --train). y is ignored."""
        p = self._native_params()
        p["clean"] = bool(clean)
        img = _image_array(X)
        if img is not None:
            self._fitted = _vaetool.fit_detector_images("X", *img, p)
        else:
            self._fitted = _vaetool.fit_detector(*_columns(X, "X"), p)
        self._set_fitted_attributes()
        return self

    def _set_fitted_attributes(self):
        f = self._fitted
        self.feature_names_in_ = f.columns()
        t = f.threshold()
        self.threshold_ = t
        self.offset_ = None if t is None else -t

    def anomaly_score(self, X):
        """The command line's score of each row: higher = more anomalous."""
        import numpy as np

        f = self._check_fitted()
        img = _image_array(X)
        if img is not None:
            return np.asarray(f.score_images("X", *img))
        return np.asarray(f.score(*_columns(X, "X")))

    def score_samples(self, X):
        """The opposite of the anomaly score (higher = more normal), as scikit-learn's outlier
        detectors."""
        return -self.anomaly_score(X)

    def decision_function(self, X):
        """score_samples − offset_: negative for anomalies (needs a threshold: contamination
        or fpr)."""
        if self.offset_ is None:
            raise ValueError("no threshold: set contamination or fpr before fit")
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """-1 for anomalies (scores above the stored threshold), +1 for normal rows."""
        import numpy as np

        return np.where(self.decision_function(X) < 0, -1, 1)

    def fit_predict(self, X, y=None):
        return self.fit(X).predict(X)

    def save(self, path):
        """Writes the model directory (`vaetool anomalies DATA --model path` reads it)."""
        self._check_fitted().save(os.fspath(path))

    @classmethod
    def load(cls, path, random_state=42):
        """Reads a model directory written by `save` or by the command line."""
        self = cls(random_state=random_state)
        self._fitted = self._load_native(path)
        self._set_fitted_attributes()
        return self


class Clusterer(_Params):
    """A VAE clusterer with the defaults of `vaetool cluster`: K-means on the latent means of
    a VAE for tables; for tables of a few continuous columns (at most 30, numeric, none
    with one value in more than a quarter of the rows, beside fewer categorical ones, which
    it leaves out) a full-covariance GMM on the scaled numeric columns ("gmm-inputs"); for tables whose every column is categorical or takes at most 10
    values a latent class model on the columns ("lca"); method="kmeans", "gmm", "n2d",
    "dec" (N2D refined by deep embedded clustering), "gmm-inputs", "lca", "vade" or "su" to
    choose. n_clusters="auto" chooses K by the
    silhouette of K-means on the latent means. Images (a 3-D array), and a table that looks
    like pixels (a square number of columns, 8×8 or more, of whole numbers on one range,
    unless `scale` is given), are clustered with N2D, refined by DEC ("dec") above 5,000
    images; up to 5,000 images, the VAE trains on
    images moved at random (augment="0.1,10": shifts of up to a tenth of the size,
    rotations of up to 10°; augment="none" to train on the images as they are)."""

    def __init__(
        self,
        n_clusters=8,
        method=None,
        n_init=None,
        neighbors=None,
        pretrain_epochs=None,
        hidden=None,
        latent=None,
        epochs=None,
        batch_size=None,
        lr=None,
        beta=None,
        arch=None,
        likelihood=None,
        output_variance=None,
        variant=None,
        scale=None,
        impute=None,
        categorical=None,
        exclude=None,
        val_fraction=None,
        device=None,
        augment=None,
        random_state=42,
    ):
        self.n_clusters = n_clusters
        self.method = method
        self.n_init = n_init
        self.neighbors = neighbors
        self.pretrain_epochs = pretrain_epochs
        self.hidden = hidden
        self.latent = latent
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.beta = beta
        self.arch = arch
        self.likelihood = likelihood
        self.output_variance = output_variance
        self.variant = variant
        self.scale = scale
        self.impute = impute
        self.categorical = categorical
        self.exclude = exclude
        self.val_fraction = val_fraction
        self.device = device
        self.augment = augment
        self.random_state = random_state

    def _load_native(self, path):
        return _vaetool.FittedClusters.load(os.fspath(path))

    def fit(self, X, y=None):
        """Trains on X and clusters its rows (labels_). y is ignored."""
        import numpy as np

        img = _image_array(X)
        if img is not None:
            self._fitted = _vaetool.fit_clusterer_images("X", *img, self._native_params())
        else:
            self._fitted = _vaetool.fit_clusterer(*_columns(X, "X"), self._native_params())
        self.labels_ = np.asarray(self._fitted.training_labels())
        self.n_clusters_ = self._fitted.k()
        return self

    def predict(self, X):
        """The cluster of each row."""
        import numpy as np

        f = self._check_fitted()
        img = _image_array(X)
        if img is not None:
            return np.asarray(f.assign_images("X", *img)[0])
        return np.asarray(f.predict(*_columns(X, "X")))

    def fit_predict(self, X, y=None):
        return self.fit(X).labels_

    def predict_proba(self, X):
        """Each row's cluster probabilities (gmm, n2d, vade, su); K-means assigns hard
        clusters and raises ValueError."""
        import numpy as np

        f = self._check_fitted()
        img = _image_array(X)
        if img is not None:
            p = f.assign_images("X", *img)[1]
        else:
            p = f.predict_proba(*_columns(X, "X"))
        if p is None:
            raise ValueError(
                "K-means assigns hard clusters: use method='gmm', 'n2d', 'dec', 'gmm-inputs', 'lca', 'vade' or 'su'"
            )
        return np.asarray(p, dtype="float64")

    def save(self, path):
        """Writes the model directory (`vaetool cluster DATA --model path` reads it)."""
        self._check_fitted().save(os.fspath(path))

    @classmethod
    def load(cls, path):
        """Reads a model directory written by `save` or by the command line."""
        self = cls()
        self._fitted = self._load_native(path)
        self.n_clusters_ = self._fitted.k()
        return self
