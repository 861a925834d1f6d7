"""Scoring 1,000,000 rows × 20 columns with one saved model (trained on 20,000 of them, the
defaults of `vaetool train`): rows/s of a single-process Python run
(`AnomalyDetector.load(...).anomaly_score(frame)`), of `vaetool.spark.score` on Spark
`local[2]`, of `vaetool.dask.score` on a Dask LocalCluster of two worker processes, and of the
command line's streaming (`--chunk-rows 65536`). The data is the one of benches/streaming.sh.
Each engine's scores are compared with the single-process ones, row for row.

    python/test.sh                 # builds the package into target/py (pyspark and dask too)
    target/py/bin/python benches/spark_dask.py [ROWS]

Times exclude reading the CSV into memory (pandas, Spark or Dask) but include moving the rows
into vaetool, scoring, and handing the scores back (Spark writes to its `noop` sink).
"""

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("VAETOOL_BIN", str(ROOT / "target" / "release" / "vaetool"))
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
W = Path(os.environ.get("TMPDIR", "/tmp")) / "vaetool-streaming"


def data():
    """The 1M-row file of benches/streaming.sh (four Gaussian groups in 20 dimensions)."""
    W.mkdir(exist_ok=True)
    big = W / "rows-1000000.csv"
    if not big.exists() or big.stat().st_size == 0:
        r = random.Random(7)
        centers = [[r.uniform(-3, 3) for _ in range(20)] for _ in range(4)]
        with open(big, "w") as f:
            f.write(",".join(f"x{j}" for j in range(20)) + "\n")
            for i in range(1_000_000):
                c = centers[i % 4]
                f.write(",".join(f"{c[j] + r.gauss(0, 1):.4f}" for j in range(20)) + "\n")
    train = W / "train.csv"
    if not train.exists():
        with open(big) as f, open(train, "w") as g:
            for _ in range(20_001):
                g.write(f.readline())
    return big, train


def rate(rows, seconds):
    return f"{rows / seconds:,.0f}"


def main():
    big, train = data()
    model = Path(tempfile.mkdtemp()) / "model"
    subprocess.run([BIN, "train", str(train), "-q", "-o", str(model)], check=True)
    frame = pd.read_csv(big, nrows=ROWS)
    frame.insert(0, "id", np.arange(len(frame)))
    n = len(frame)
    results = []

    from vaetool import AnomalyDetector

    det = AnomalyDetector.load(model)
    t = time.perf_counter()
    single = det.anomaly_score(frame.drop(columns=["id"]))
    s = time.perf_counter() - t
    results.append(("single process (Python, in memory)", s, rate(n, s), "—"))

    def diff(got):
        return f"{(np.abs(got - single) / np.maximum(np.abs(single), 1)).max():.1e}"

    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    from vaetool import spark as vs

    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.driver.memory", "4g").getOrCreate())
    df = spark.createDataFrame(frame).repartition(2).cache()
    df.count()
    t = time.perf_counter()
    vs.score(df, model).write.format("noop").mode("overwrite").save()
    s = time.perf_counter() - t
    got = vs.score(df, model).select("id", "score").toPandas().sort_values("id")["score"].to_numpy()
    results.append(("Spark local[2] (`vaetool.spark.score`)", s, rate(n, s), diff(got)))
    spark.stop()

    from distributed import Client, LocalCluster
    import dask.dataframe as dd
    from vaetool import dask as vd

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        ddf = client.persist(dd.from_pandas(frame, npartitions=8))
        t = time.perf_counter()
        out = vd.score(ddf, model).compute()
        s = time.perf_counter() - t
        results.append(("Dask LocalCluster, 2 worker processes (`vaetool.dask.score`)", s,
                        rate(n, s), diff(out["score"].to_numpy())))

    csv = W / f"rows-{n}.csv"
    if n != 1_000_000 and not csv.exists():
        frame.drop(columns=["id"]).to_csv(csv, index=False)
    elif n == 1_000_000:
        csv = big
    out = Path(tempfile.mkdtemp()) / "scores.csv"
    t = time.perf_counter()
    subprocess.run([BIN, "anomalies", str(csv), "--model", str(model), "--chunk-rows", "65536",
                    "-q", "-o", str(out)], check=True)
    s = time.perf_counter() - t
    cli = pd.read_csv(out)["score"].to_numpy()
    results.append(("command line, streaming (`--chunk-rows 65536`, CSV read included)", s,
                    rate(n, s), diff(cli)))

    samples = __import__("json").loads((model / "anomaly.json").read_text())["samples"]
    print(f"{n:,} rows × 20 columns, {samples} posterior draws per score, {os.cpu_count()} cores\n")
    print("| engine | seconds | rows/s | largest relative difference from single process |")
    print("|---|---|---|---|")
    for name, s, r, d in results:
        print(f"| {name} | {s:.1f} | {r} | {d} |")


if __name__ == "__main__":
    main()
