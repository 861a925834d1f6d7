"""Scoring and assigning on Spark: a model trained on a sample (by vaetool or the command
line) applied to every row of a Spark DataFrame where it lives, through `mapInArrow`.

    from vaetool import spark as vs
    scored = vs.score(df, "model/")        # df + a "score" column (higher = more anomalous)
    labelled = vs.assign(df, "model/")     # df + a "cluster" column

Every other column passes through unchanged, in order (as Spark ML's `transform`). The model
directory is read on the driver and shipped to the executors once (a broadcast variable); each
executor's Python worker loads it once. A row's score depends on the row alone — not on the
partitioning, nor on the rows in its Arrow batch — so it equals a single-process
`AnomalyDetector.load(model_dir).anomaly_score(...)` of the same row, and the command line's
`vaetool anomalies DATA --model model_dir` for the same `--seed` (`random_state`).

Needs PySpark 3.3 or later (mapInArrow) with pyarrow and pandas on the executors.
"""

from . import _shipping

__all__ = ["score", "assign"]


def _map(df, shipped_bc, compute, column, spark_type):
    from pyspark.sql.types import StructField, StructType

    _shipping.check_new_column(df.columns, column)
    schema = StructType(list(df.schema.fields) + [StructField(column, spark_type, False)])

    def run(batches):
        import pyarrow as pa

        shipped = shipped_bc.value
        for b in batches:
            values = compute(b.to_pandas(), shipped)
            yield pa.RecordBatch.from_arrays(
                list(b.columns) + [pa.array(values)],
                names=list(b.schema.names) + [column],
            )

    return df.mapInArrow(run, schema)


def score(df, model_dir, column="score", random_state=42):
    """`df` with the anomaly score of each row appended as `column` (double; higher = more
    anomalous), from the model directory `model_dir` (`AnomalyDetector.save`, `vaetool
    anomalies … --save-model`, `vaetool train`). `random_state` seeds the posterior draws, as
    the command line's --seed."""
    from pyspark.sql.types import DoubleType

    shipped = _shipping.Shipped(model_dir)
    # fail on the driver, before any task: the model must load and find its columns
    _shipping.check_columns(_shipping.detector(shipped, random_state), df.columns, "Spark DataFrame")
    bc = df.sparkSession.sparkContext.broadcast(shipped)
    seed = int(random_state)

    def compute(frame, s):
        return _shipping.scores(frame, s, seed, "Spark partition")

    return _map(df, bc, compute, column, DoubleType())


def assign(df, model_dir, column="cluster"):
    """`df` with each row's cluster appended as `column` (long), from a model directory with a
    clustering (`Clusterer.save`, `vaetool cluster … --save-model`)."""
    from pyspark.sql.types import LongType

    shipped = _shipping.Shipped(model_dir)
    _shipping.check_columns(_shipping.clusters(shipped), df.columns, "Spark DataFrame")
    bc = df.sparkSession.sparkContext.broadcast(shipped)

    def compute(frame, s):
        return _shipping.labels(frame, s, "Spark partition")

    return _map(df, bc, compute, column, LongType())
