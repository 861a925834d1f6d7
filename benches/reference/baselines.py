"""Reference anomaly detectors on vaetool's bundled ODDS-style sets, with default settings:
IsolationForest (scikit-learn), the distance of a row from the feature means, and PyOD's VAE
when pyod and torch are importable. Features are standardized; every detector is fit and scored
on all rows (the unsupervised setting vaetool's defaults use). Prints Markdown table rows:
dataset, detector, median ROC-AUC and AP over seeds 1-5 (distance-to-mean is deterministic).

    python3 benches/reference/baselines.py datasets/shuttle.csv datasets/cardio.csv datasets/breastw.csv
"""
import csv
import statistics
import sys

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score


def load(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    keep = [i for i, h in enumerate(head) if h not in ("id", "outlier")]
    x = np.array([[float(r[i]) for i in keep] for r in body])
    y = np.array([int(r[head.index("outlier")]) for r in body])
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    return (x - x.mean(axis=0)) / sd, y


def row(name, det, aucs, aps):
    print(f"| {name} | {det} | {statistics.median(aucs):.4f} | {statistics.median(aps):.4f} |")


for path in sys.argv[1:]:
    name = path.rsplit("/", 1)[-1].removesuffix(".csv")
    x, y = load(path)
    aucs, aps = [], []
    for seed in range(1, 6):
        s = -IsolationForest(random_state=seed).fit(x).score_samples(x)
        aucs.append(roc_auc_score(y, s))
        aps.append(average_precision_score(y, s))
    row(name, "IsolationForest (scikit-learn defaults)", aucs, aps)
    d = np.linalg.norm(x, axis=1)
    row(name, "distance to the mean", [roc_auc_score(y, d)], [average_precision_score(y, d)])
    try:
        from pyod.models.vae import VAE
    except Exception as e:  # pyod's VAE needs torch
        print(f"| {name} | PyOD VAE | not run: {type(e).__name__} | |")
        continue
    aucs, aps = [], []
    for seed in range(1, 6):
        m = VAE(random_state=seed, verbose=0).fit(x)
        s = m.decision_scores_
        aucs.append(roc_auc_score(y, s))
        aps.append(average_precision_score(y, s))
    row(name, "PyOD VAE (defaults)", aucs, aps)
