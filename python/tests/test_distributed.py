"""vaetool.spark and vaetool.dask, for real: PySpark in local mode (two executor threads, Python
workers, Arrow batches) and a Dask LocalCluster with two worker processes. Each must give, row
for row, the scores and clusters of a single-process run, whatever the partitioning."""

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaetool import AnomalyDetector, Clusterer

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "datasets"


@pytest.fixture(scope="module")
def shuttle():
    return pd.read_csv(DATA / "shuttle.csv")


@pytest.fixture(scope="module")
def detector_dir(shuttle, tmp_path_factory):
    """A detector trained on a 2,000-row sample, as one would before scoring everything."""
    d = tmp_path_factory.mktemp("m") / "detector"
    sample = shuttle.sample(2000, random_state=0).drop(columns=["id", "outlier"])
    AnomalyDetector(contamination=0.07, random_state=3).fit(sample).save(d)
    return d


@pytest.fixture(scope="module")
def clusterer_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("m") / "clusterer"
    iris = pd.read_csv(DATA / "iris.csv").drop(columns=["species"])
    Clusterer(n_clusters=3, epochs=30, random_state=3).fit(iris).save(d)
    return d


def single_process_scores(df, model_dir, seed=42):
    return AnomalyDetector.load(model_dir, random_state=seed).anomaly_score(
        df.drop(columns=["id", "outlier"]))


def assert_same_scores(got, expected):
    rel = np.abs(got - expected) / np.maximum(np.abs(expected), 1.0)
    assert rel.max() <= 1e-6, f"largest relative difference {rel.max()}"


@pytest.fixture(scope="module")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    s = (SparkSession.builder.master("local[2]").appName("vaetool-tests")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "4")
         # several Arrow batches per partition
         .config("spark.sql.execution.arrow.maxRecordsPerBatch", "700")
         .getOrCreate())
    yield s
    s.stop()


def test_spark_scores_equal_the_single_process_ones_whatever_the_partitioning(
        spark, shuttle, detector_dir):
    from vaetool import spark as vs

    expected = single_process_scores(shuttle, detector_dir)
    df = spark.createDataFrame(shuttle)
    for parts in (1, 3, 7):
        out = vs.score(df.repartition(parts), detector_dir)
        # every column passed through, in order, the score appended
        assert out.columns == list(shuttle.columns) + ["score"]
        got = out.toPandas().sort_values("id").reset_index(drop=True)
        pd.testing.assert_frame_equal(got[list(shuttle.columns)], shuttle.sort_values("id").reset_index(drop=True),
                                      check_dtype=False)
        order = shuttle.sort_values("id").index.to_numpy()
        assert_same_scores(got["score"].to_numpy(), expected[order])
    # another seed, other draws: the same seed gives the same scores everywhere
    s7 = vs.score(df.repartition(2), detector_dir, random_state=7, column="s7").toPandas()
    s7 = s7.sort_values("id")["s7"].to_numpy()
    assert_same_scores(s7, single_process_scores(shuttle, detector_dir, seed=7)[shuttle.sort_values("id").index])
    assert np.abs(s7 - expected[shuttle.sort_values("id").index]).max() > 0
    # the outliers score high (ROC-AUC of the shipped model on all 10,000 rows)
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(shuttle["outlier"], expected) > 0.95
    with pytest.raises(ValueError, match="already has a column named 'id'"):
        vs.score(df, detector_dir, column="id")
    with pytest.raises(ValueError, match="Spark DataFrame: the columns do not match the model's "
                                         "schema; missing columns: f3"):
        vs.score(df.drop("f3"), detector_dir)


def test_spark_clusters_equal_the_single_process_ones(spark, clusterer_dir):
    from vaetool import spark as vs

    iris = pd.read_csv(DATA / "iris.csv")
    expected = Clusterer.load(clusterer_dir).predict(iris.drop(columns=["species"]))
    out = vs.assign(spark.createDataFrame(iris.reset_index()).repartition(4), clusterer_dir)
    got = out.toPandas().sort_values("index")
    assert list(got.columns) == ["index"] + list(iris.columns) + ["cluster"]
    np.testing.assert_array_equal(got["cluster"].to_numpy(), expected)


@pytest.fixture(scope="module")
def dask_client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_scores_equal_the_single_process_ones_whatever_the_partitioning(
        dask_client, shuttle, detector_dir):
    import dask.dataframe as dd
    from vaetool import dask as vd

    expected = single_process_scores(shuttle, detector_dir)
    for parts in (1, 4, 9):
        ddf = dd.from_pandas(shuttle, npartitions=parts)
        out = vd.score(ddf, detector_dir)
        assert list(out.columns) == list(shuttle.columns) + ["score"]
        got = out.compute()
        # the work ran on the two worker processes
        assert len(dask_client.scheduler_info()["workers"]) == 2
        pd.testing.assert_frame_equal(got[list(shuttle.columns)], shuttle, check_dtype=False)
        assert_same_scores(got["score"].to_numpy(), expected)


def test_dask_clusters_equal_the_single_process_ones(dask_client, clusterer_dir):
    import dask.dataframe as dd
    from vaetool import dask as vd

    iris = pd.read_csv(DATA / "iris.csv")
    expected = Clusterer.load(clusterer_dir).predict(iris.drop(columns=["species"]))
    got = vd.assign(dd.from_pandas(iris, npartitions=5), clusterer_dir).compute()
    np.testing.assert_array_equal(got["cluster"].to_numpy(), expected)
    assert list(got.columns) == list(iris.columns) + ["cluster"]


def test_a_missing_column_is_the_command_lines_error(dask_client, shuttle, detector_dir):
    import dask.dataframe as dd
    from vaetool import dask as vd

    ddf = dd.from_pandas(shuttle.drop(columns=["f3"]).head(50), npartitions=2)
    # raised at once, on the client, with the command line's message
    with pytest.raises(ValueError, match="Dask DataFrame: the columns do not match the model's "
                                         "schema; missing columns: f3; extra columns: id, outlier"):
        vd.score(ddf, detector_dir)
