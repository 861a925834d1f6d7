"""Scoring and assigning on Dask: a model trained on a sample applied to every partition of a
Dask DataFrame, through `map_partitions`.

    from vaetool import dask as vd
    scored = vd.score(ddf, "model/")       # ddf + a "score" column (higher = more anomalous)
    labelled = vd.assign(ddf, "model/")    # ddf + a "cluster" column

Every other column passes through unchanged. The model directory's files enter the task graph
once (one key every partition depends on), so a distributed scheduler sends them to each worker
once; each worker process loads the model once. A row's score depends on the row alone, not on
the partitioning: it equals a single-process `AnomalyDetector.load(model_dir).anomaly_score`
of the same row, and the command line's for the same `--seed` (`random_state`).
"""

from . import _shipping

__all__ = ["score", "assign"]


def _map(ddf, shipped, compute, column, dtype):
    import dask
    import pandas as pd

    _shipping.check_new_column([str(c) for c in ddf.columns], column)
    meta = ddf._meta.assign(**{column: pd.Series([], dtype=dtype)})
    files = dask.delayed(shipped, pure=True)

    def run(part, s):
        return part.assign(**{column: compute(part, s)})

    return ddf.map_partitions(run, files, meta=meta)


def score(ddf, model_dir, column="score", random_state=42):
    """`ddf` with the anomaly score of each row appended as `column` (float64; higher = more
    anomalous), from the model directory `model_dir`. `random_state` seeds the posterior draws,
    as the command line's --seed."""
    shipped = _shipping.Shipped(model_dir)
    # fail here, before any task: the model must load and find its columns
    _shipping.check_columns(_shipping.detector(shipped, random_state), ddf.columns, "Dask DataFrame")
    seed = int(random_state)

    def compute(part, s):
        return _shipping.scores(part, s, seed, "Dask partition")

    return _map(ddf, shipped, compute, column, "float64")


def assign(ddf, model_dir, column="cluster"):
    """`ddf` with each row's cluster appended as `column` (int64), from a model directory with
    a clustering."""
    shipped = _shipping.Shipped(model_dir)
    _shipping.check_columns(_shipping.clusters(shipped), ddf.columns, "Dask DataFrame")

    def compute(part, s):
        return _shipping.labels(part, s, "Dask partition")

    return _map(ddf, shipped, compute, column, "int64")
