"""A lever of vaetool 8 measured with the command line, not built into vaetool: ensembles over
row subsamples (RandNet; IsolationForest's subsampling). Each of MEMBERS models is trained by
`vaetool anomalies SUB.csv --save-model M --seed …` on a random FRAC of a table's rows (the
anomaly defaults: trimmed, 10 epochs), then `vaetool anomalies TABLE.csv --model M` scores every
row; the members' scores are averaged as ranks. Median ROC-AUC and AP over seeds 1-5, one CSV
line per table as benches/anomaly.sh writes (table,detector,roc_auc,ap,seconds), so that
benches/reference/summary.py compares it with the other rows of benches/out/anomaly.csv:

    FRAC=0.5 MEMBERS=5 python3 benches/subsample_ensemble.py >> benches/out/anomaly.csv

Environment: FRAC (0.5), MEMBERS (5), NAME, VAETOOL (target/release/vaetool); needs
scikit-learn and scipy.
"""
import csv
import glob
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
B = os.environ.get("VAETOOL", "target/release/vaetool")
FRAC = float(os.environ.get("FRAC", "0.5"))
MEMBERS = int(os.environ.get("MEMBERS", "5"))
NAME = os.environ.get("NAME", f"vaetool subsample {MEMBERS}x{FRAC}")
TABLES = ["datasets/shuttle.csv", "datasets/cardio.csv", "datasets/breastw.csv"] + sorted(
    glob.glob("datasets/anomaly/*.csv"))


def main():
    work = tempfile.mkdtemp(prefix="vaetool-subsample-")
    for f in TABLES:
        flags_file = f[:-4] + ".flags"
        flags = open(flags_file).read().split() if os.path.exists(flags_file) else []
        lines = open(f).read().splitlines()
        head, body = lines[0].split(","), lines[1:]
        if head[0] == "id":
            flags += ["--id-column", "id"]
        y = np.array([int(float(r.split(",")[head.index("outlier")])) for r in body])
        aucs, aps, secs = [], [], []
        for seed in range(1, 6):
            start = time.time()
            rng = np.random.default_rng(1000 * seed + 7)
            ranks = []
            for m in range(MEMBERS):
                idx = np.sort(rng.choice(len(body), max(int(FRAC * len(body)), 2), replace=False))
                sub, model, out = f"{work}/sub.csv", f"{work}/model-{m}", f"{work}/scores.csv"
                with open(sub, "w") as w:
                    w.write("\n".join([lines[0]] + [body[i] for i in idx]) + "\n")
                common = [*flags, "--label-column", "outlier"]
                subprocess.run([B, "anomalies", sub, *common, "--seed", str(10 * seed + m), "-q",
                                "-o", os.devnull, "--save-model", model], check=True,
                               capture_output=True)
                subprocess.run([B, "anomalies", f, *common, "--model", model, "-o", out],
                               check=True, capture_output=True)
                score = np.array([float(r["score"]) for r in csv.DictReader(open(out))])
                ranks.append(rankdata(score) / len(score))
            s = np.mean(ranks, axis=0)
            aucs.append(roc_auc_score(y, s))
            aps.append(average_precision_score(y, s))
            secs.append(time.time() - start)
        print(f"{os.path.basename(f)[:-4]},{NAME},{statistics.median(aucs):.4f},"
              f"{statistics.median(aps):.4f},{statistics.median(secs):.1f}", flush=True)


if __name__ == "__main__":
    main()
