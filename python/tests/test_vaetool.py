"""The Python package against the command line: the same numbers for the same seed, the same
model directories both ways, scikit-learn's habits, and the command line's error messages.

Needs the release binary (`cargo build --release`, or VAETOOL_BIN) for the comparisons."""

import io
import os
import pickle
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vaetool
from vaetool import AnomalyDetector, Clusterer

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "datasets"
BIN = os.environ.get("VAETOOL_BIN", str(ROOT / "target" / "release" / "vaetool"))


def cli(*args):
    """The command's CSV output as a DataFrame."""
    r = subprocess.run([BIN, *map(str, args), "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return pd.read_csv(io.StringIO(r.stdout))


@pytest.fixture(scope="module")
def breastw():
    df = pd.read_csv(DATA / "breastw.csv")
    return df.drop(columns=["outlier"]), df["outlier"].to_numpy()


@pytest.fixture(scope="module")
def iris():
    df = pd.read_csv(DATA / "iris.csv")
    return df.drop(columns=["species"]), df["species"].to_numpy()


def test_anomaly_scores_are_the_command_lines(breastw, tmp_path):
    X, y = breastw
    det = AnomalyDetector(contamination=0.35, random_state=1).fit(X)
    out = cli("anomalies", DATA / "breastw.csv", "--label-column", "outlier",
              "--contamination", "0.35", "--seed", "1")
    s = det.anomaly_score(X)
    np.testing.assert_array_equal(s, out["score"].to_numpy())
    # scikit-learn's conventions: score_samples is the negative, predict -1 for anomalies
    np.testing.assert_array_equal(det.score_samples(X), -s)
    pred = det.predict(X)
    np.testing.assert_array_equal(pred == -1, out["is_anomaly"].to_numpy() == 1)
    assert np.all((det.decision_function(X) < 0) == (pred == -1))
    assert abs((pred == -1).mean() - 0.35) < 0.02
    # the outliers score high
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, s) > 0.9
    # saved by Python, read by the command line
    det.save(tmp_path / "m")
    out2 = cli("anomalies", DATA / "breastw.csv", "--model", tmp_path / "m", "--seed", "1")
    np.testing.assert_array_equal(out2["score"].to_numpy(), s)
    np.testing.assert_array_equal(out2["is_anomaly"].to_numpy() == 1, pred == -1)
    # saved by the command line, read by Python
    cli("anomalies", DATA / "breastw.csv", "--label-column", "outlier", "--seed", "1",
        "--save-model", tmp_path / "cli")
    loaded = AnomalyDetector.load(tmp_path / "cli", random_state=1)
    np.testing.assert_array_equal(
        loaded.anomaly_score(X),
        cli("anomalies", DATA / "breastw.csv", "--model", tmp_path / "cli", "--seed", "1")["score"].to_numpy(),
    )
    # augment moves images; a table is refused before any training
    with pytest.raises(ValueError, match="--augment moves training images, and this data is a table"):
        AnomalyDetector(augment="0.1,10").fit(X)


def test_clean_training_is_the_command_lines_train_option(breastw):
    X, _ = breastw
    det = AnomalyDetector(fpr=0.05, epochs=4, random_state=1).fit(X, clean=True)
    out = cli("anomalies", DATA / "breastw.csv", "--train", DATA / "breastw.csv",
              "--label-column", "outlier", "--epochs", "4", "--fpr", "0.05", "--seed", "1")
    np.testing.assert_array_equal(det.anomaly_score(X), out["score"].to_numpy())


def test_inputs_numpy_arrow_and_column_checks(breastw):
    X, _ = breastw
    det = AnomalyDetector(epochs=3, random_state=2).fit(X)
    s = det.anomaly_score(X)
    assert det.feature_names_in_[:3] == ["id", "clump_thickness", "cell_size"]
    # a pyarrow table of the same frame: the same scores
    import pyarrow as pa

    np.testing.assert_array_equal(det.anomaly_score(pa.Table.from_pandas(X)), s)
    # the schema is checked by name, as the command line checks a CSV's header
    with pytest.raises(ValueError, match="the columns do not match the model's schema; missing columns: mitoses; extra columns: other"):
        det.anomaly_score(X.rename(columns={"mitoses": "other"}))
    # a NumPy array: columns c0, c1, …, as a CSV without a header
    a = X.to_numpy()
    det2 = AnomalyDetector(epochs=3, random_state=2).fit(a)
    assert det2.feature_names_in_[:2] == ["c0", "c1"]
    np.testing.assert_array_equal(det2.anomaly_score(a), s)


def test_sklearn_clone_params_and_pickle(breastw):
    from sklearn.base import clone

    X, _ = breastw
    det = AnomalyDetector(contamination=0.1, epochs=3, random_state=3, hidden=(32, 16))
    c = clone(det)
    assert c.get_params() == det.get_params()
    assert c.set_params(epochs=4).epochs == 4
    with pytest.raises(ValueError, match="invalid parameter"):
        c.set_params(n_epochs=4)
    det.fit(X)
    back = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(back.anomaly_score(X), det.anomaly_score(X))
    np.testing.assert_array_equal(back.predict(X), det.predict(X))
    assert back.threshold_ == det.threshold_


def test_bad_input_raises_value_error_with_the_command_lines_message(breastw):
    X, _ = breastw
    with pytest.raises(ValueError, match=r"^--contamination must be strictly between 0 and 1, got 1.5$"):
        AnomalyDetector(contamination=1.5).fit(X)
    with pytest.raises(ValueError, match="unknown clustering method 'knn'"):
        Clusterer(n_clusters=3, method="knn").fit(X)
    with pytest.raises(ValueError, match="no threshold"):
        AnomalyDetector(epochs=2).fit(X).predict(X)
    bad = X.astype({"mitoses": "object"})
    bad.loc[2, "mitoses"] = "many"
    with pytest.raises(ValueError, match=r"X: line 3, column 'mitoses': cannot read \"many\" as a number"):
        AnomalyDetector(epochs=2).fit(bad)
    with pytest.raises(ValueError, match="not fitted"):
        AnomalyDetector().anomaly_score(X)


def test_clusters_are_the_command_lines(iris, tmp_path):
    X, species = iris
    c = Clusterer(n_clusters=3, random_state=5)
    labels = c.fit_predict(X)
    out = cli("cluster", DATA / "iris.csv", "--label-column", "species", "--k", "3", "--seed", "5")
    np.testing.assert_array_equal(labels, out["cluster"].to_numpy())
    np.testing.assert_array_equal(c.predict(X), labels)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(species, labels) > 0.85  # a GMM on iris's four columns
    assert c.predict_proba(X).shape == (150, 3)
    with pytest.raises(ValueError, match="hard clusters"):
        Clusterer(n_clusters=3, method="kmeans", epochs=5).fit(X).predict_proba(X)
    c.save(tmp_path / "m")
    np.testing.assert_array_equal(
        cli("cluster", DATA / "iris.csv", "--model", tmp_path / "m")["cluster"].to_numpy(), labels
    )
    back = Clusterer.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict(X), labels)
    # GMM probabilities, and K by silhouette
    g = Clusterer(n_clusters=3, method="gmm", random_state=5).fit(X)
    p = g.predict_proba(X)
    assert p.shape == (150, 3) and np.allclose(p.sum(axis=1), 1, atol=1e-4)
    np.testing.assert_array_equal(p.argmax(axis=1), g.predict(X))
    auto = Clusterer(n_clusters="auto", random_state=5).fit(X)
    out = cli("cluster", DATA / "iris.csv", "--label-column", "species", "--k", "auto", "--seed", "5")
    np.testing.assert_array_equal(auto.labels_, out["cluster"].to_numpy())
    assert 2 <= auto.n_clusters_ <= 10


def test_a_table_of_measurements_and_a_category_is_clustered_on_the_measurements(iris, tmp_path):
    # iris with a two-valued column cutting across the species: the GMM reads the four
    # measurements alone, as the command line does
    X, species = iris
    X = X.assign(site=np.where(np.arange(len(X)) % 2 == 0, "north", "south"))
    X = X[["site", *X.columns[:-1]]]
    X.assign(species=species).to_csv(tmp_path / "sites.csv", index=False)
    c = Clusterer(n_clusters=3, categorical=["site"], random_state=5, epochs=5).fit(X)
    out = cli(
        "cluster", tmp_path / "sites.csv", "--categorical", "site", "--label-column", "species",
        "--k", "3", "--seed", "5", "--epochs", "5",
    )
    np.testing.assert_array_equal(c.labels_, out["cluster"].to_numpy())
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(species, c.labels_) > 0.85
    c.save(tmp_path / "m")
    stored = (tmp_path / "m" / "clustering.json").read_text().replace(" ", "").replace("\n", "")
    assert '"method":"gmm-inputs"' in stored and '"columns":[2,3,4,5]' in stored


def test_a_table_of_codes_is_clustered_by_latent_classes(tmp_path):
    # three classes, twelve columns of codes 0-2 (each class gives its own with p = 0.8)
    rng = np.random.default_rng(3)
    truth = np.arange(300) % 3
    own = (truth[:, None] + np.arange(12)[None, :]) % 3
    other = (own + rng.integers(1, 3, size=own.shape)) % 3
    X = np.where(rng.random(own.shape) < 0.8, own, other).astype(float)
    c = Clusterer(n_clusters=3, random_state=2, epochs=5).fit(X)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, c.labels_) > 0.9
    # the default's latent class model gives probabilities, which K-means would not
    p = c.predict_proba(X)
    assert p.shape == (300, 3) and np.allclose(p.sum(axis=1), 1, atol=1e-4)
    np.testing.assert_array_equal(p.argmax(axis=1), c.labels_)
    c.save(tmp_path / "m")
    stored = (tmp_path / "m" / "clustering.json").read_text()
    assert '"method":"lca"' in stored.replace(" ", "")


def test_the_gil_is_released_while_training():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(4000, 20)), columns=[f"x{j}" for j in range(20)])
    done = threading.Event()
    ticks = [0]

    def count():
        while not done.is_set():
            ticks[0] += 1

    t = threading.Thread(target=count)
    t.start()
    # the counter's rate while this thread sleeps (the GIL free)
    t0 = ticks[0]
    time.sleep(0.1)
    rate = (ticks[0] - t0) / 0.1
    before = ticks[0]
    start = time.time()
    AnomalyDetector(epochs=30, random_state=1).fit(X)
    elapsed = time.time() - start
    during = ticks[0] - before
    done.set()
    t.join()
    # held through the fit, the GIL would let the counter run for one switch interval (5 ms)
    # at most; released, for most of the fit (sharing the cores with the training)
    assert elapsed > 0.2, elapsed
    assert during > 0.1 * rate * elapsed, (during, rate, elapsed)


def test_ensembles_are_the_command_lines(breastw, tmp_path):
    X, _ = breastw
    det = AnomalyDetector(ensemble=3, epochs=5, random_state=4).fit(X)
    out = cli("anomalies", DATA / "breastw.csv", "--label-column", "outlier",
              "--ensemble", "3", "--epochs", "5", "--seed", "4")
    s = det.anomaly_score(X)
    np.testing.assert_array_equal(s, out["score"].to_numpy())
    # mean percentiles
    assert s.min() >= 0 and s.max() <= 1
    with pytest.raises(ValueError, match="an ensemble of 3 models is not one model directory"):
        det.save(tmp_path / "m")
    with pytest.raises(ValueError, match="--ensemble must be at least 1"):
        AnomalyDetector(ensemble=0).fit(X)


def mnist_tiny():
    """The bundled 100 MNIST digits as a uint8 array n × 28 × 28 (the IDX file's own bytes)."""
    import gzip

    raw = gzip.decompress((DATA / "mnist-tiny" / "images-idx3-ubyte.gz").read_bytes())
    n = int.from_bytes(raw[4:8], "big")
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 28, 28)


def test_images_are_the_command_lines():
    X = mnist_tiny()
    idx = DATA / "mnist-tiny" / "images-idx3-ubyte.gz"
    det = AnomalyDetector(epochs=3).fit(X)
    out = cli("anomalies", idx, "--epochs", "3")
    np.testing.assert_array_equal(det.anomaly_score(X), out["score"].to_numpy())
    # the same pixels as floats in [0, 1], channel first: the same scores
    np.testing.assert_array_equal(
        det.anomaly_score((X.astype(np.float32) / np.float32(255))[:, None]), out["score"].to_numpy())
    # unit output variances (images default to fitted ones): the command line's too
    unit = AnomalyDetector(epochs=3, output_variance="unit").fit(X)
    out_unit = cli("anomalies", idx, "--epochs", "3", "--output-variance", "unit")
    np.testing.assert_array_equal(unit.anomaly_score(X), out_unit["score"].to_numpy())
    assert not np.array_equal(unit.anomaly_score(X), out["score"].to_numpy())
    # images moved at random while training, as the command line's --augment
    moved = AnomalyDetector(epochs=3, augment="0.1,10").fit(X)
    out_moved = cli("anomalies", idx, "--epochs", "3", "--augment", "0.1,10")
    np.testing.assert_array_equal(moved.anomaly_score(X), out_moved["score"].to_numpy())
    assert not np.array_equal(moved.anomaly_score(X), out["score"].to_numpy())
    with pytest.raises(ValueError, match=r"output_variance: unknown output variance 'some' \(expected unit or fitted\)"):
        AnomalyDetector(output_variance="some").fit(X)
    with pytest.raises(ValueError, match="--output-variance fitted needs the gaussian likelihood, not bernoulli"):
        AnomalyDetector(epochs=1, likelihood="bernoulli", output_variance="fitted").fit(X)
    c = Clusterer(n_clusters=10, epochs=3)
    labels = c.fit_predict(X)
    out = cli("cluster", idx, "--k", "10", "--epochs", "3")
    np.testing.assert_array_equal(labels, out["cluster"].to_numpy())
    np.testing.assert_array_equal(c.predict(X), labels)
    assert c.predict_proba(X).shape == (len(X), 10)  # N2D: a GMM on the manifold
    # N2D trains on images moved at random unless told: augment="none" is the command line's
    # --augment none
    still = Clusterer(n_clusters=10, epochs=3, augment="none").fit_predict(X)
    out_still = cli("cluster", idx, "--k", "10", "--epochs", "3", "--augment", "none")
    np.testing.assert_array_equal(still, out_still["cluster"].to_numpy())
    assert not np.array_equal(still, labels)
    with pytest.raises(ValueError, match=r"augment: expected none or SHIFT,DEGREES \(e.g. 0.1,10\), got '0.1'"):
        Clusterer(n_clusters=10, augment="0.1").fit(X)
    with pytest.raises(ValueError, match="pixel values must be in"):
        det.anomaly_score(X.astype(np.float32))
    with pytest.raises(ValueError, match="the images are 1x14x14 but the model takes 1x28x28"):
        det.anomaly_score(X[:, ::2, ::2].copy())
