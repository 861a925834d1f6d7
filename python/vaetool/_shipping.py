"""Shipping a model directory to the processes that score where the data lives (Spark
executors, Dask workers), and scoring column batches there. Shared by vaetool.spark and
vaetool.dask.

A model directory travels as its files' bytes (a few KB to a few MB), once per process: the
receiving process writes them into a private temporary directory named by their hash and loads
the model once; every later batch in that process reuses it."""

import hashlib
import os
import tempfile
from pathlib import Path

from . import _columns, _vaetool

_LOADED = {}


class Shipped:
    """A model directory's files, with the hash that names them."""

    def __init__(self, model_dir):
        d = Path(os.fspath(model_dir))
        if not d.is_dir():
            raise ValueError(f"{d}: no such model directory")
        self.files = {f.name: f.read_bytes() for f in sorted(d.iterdir()) if f.is_file()}
        if "config.json" not in self.files:
            raise ValueError(f"{d}: not a vaetool model directory (no config.json)")
        h = hashlib.sha256()
        for name, data in self.files.items():
            h.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
        self.key = h.hexdigest()[:32]

    def directory(self):
        """The files written (once per process) into a private directory named by their hash."""
        root = Path(tempfile.gettempdir()) / f"vaetool-models-{os.getuid() if hasattr(os, 'getuid') else 0}"
        d = root / self.key
        if not (d / "config.json").is_file():
            root.mkdir(mode=0o700, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=root))
            for name, data in self.files.items():
                (tmp / name).write_bytes(data)
            try:
                os.rename(tmp, d)
            except OSError:  # another process of this machine was first
                for f in tmp.iterdir():
                    f.unlink()
                tmp.rmdir()
        return d


def detector(shipped, random_state):
    """The anomaly detector of a shipped model, loaded once per process."""
    key = ("score", shipped.key, int(random_state))
    if key not in _LOADED:
        _LOADED[key] = _vaetool.FittedDetector.load(os.fspath(shipped.directory()), int(random_state))
    return _LOADED[key]


def clusters(shipped):
    """The clustering of a shipped model, loaded once per process."""
    key = ("assign", shipped.key)
    if key not in _LOADED:
        _LOADED[key] = _vaetool.FittedClusters.load(os.fspath(shipped.directory()))
    return _LOADED[key]


def feature_frame(frame, fitted):
    """The model's feature columns of a pandas frame, when it has them all (anything else
    goes whole, so that the error is the command line's)."""
    names = [str(c) for c in frame.columns]
    wanted = fitted.columns()
    if all(c in names for c in wanted):
        return frame[wanted]
    return frame


def check_columns(fitted, names, where):
    """The command line's error, raised on the driver before any task, when the data lacks one
    of the model's columns."""
    fitted.check_columns(where, [str(n) for n in names])


def check_new_column(names, column):
    if column in names:
        raise ValueError(
            f"the data already has a column named {column!r}: choose another name (column=...)"
        )


def scores(frame, shipped, random_state, where):
    """The anomaly scores of the rows of a pandas frame (float64)."""
    import numpy as np

    if len(frame) == 0:
        return np.empty(0, dtype="float64")
    f = detector(shipped, random_state)
    return np.asarray(f.score(*_columns(feature_frame(frame, f), where)), dtype="float64")


def labels(frame, shipped, where):
    """The clusters of the rows of a pandas frame (int64)."""
    import numpy as np

    if len(frame) == 0:
        return np.empty(0, dtype="int64")
    f = clusters(shipped)
    return np.asarray(f.predict(*_columns(feature_frame(frame, f), where)), dtype="int64")
