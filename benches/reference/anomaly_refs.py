"""Reference anomaly detectors for the development benchmark (vaetool 8), with their libraries'
defaults: scikit-learn's IsolationForest, PyOD's ECOD, KNN, LOF and VAE, a 5-component
Gaussian mixture (scikit-learn, score = negative log-likelihood) and the distance to the mean.
Every detector is fit and scored on all rows (the unsupervised setting). Inputs: numeric
columns standardized, categorical ones (a NAME.flags file beside the table naming them, as for
vaetool) one-hot encoded, missing cells filled with the column's mean. Randomized detectors
run with seeds 1-5 and report the median. Prints one CSV line per table and detector:

    table,detector,roc_auc,ap,seconds

    python3 benches/reference/anomaly_refs.py datasets/shuttle.csv datasets/anomaly/*.csv
"""
import os
import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.mixture import GaussianMixture

from tables import load_table, standardize

warnings.filterwarnings("ignore")


def load(path):
    x, y, _ = load_table(path, "outlier")
    return standardize(x), np.array([int(v) for v in y])


def detectors():
    from pyod.models.ecod import ECOD
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF

    yield "IsolationForest", True, lambda x, s: -IsolationForest(random_state=s).fit(x).score_samples(x)
    yield "ECOD", False, lambda x, s: ECOD().fit(x).decision_scores_
    yield "KNN", False, lambda x, s: KNN().fit(x).decision_scores_
    yield "LOF", False, lambda x, s: LOF().fit(x).decision_scores_
    yield "GMM-5", True, lambda x, s: -GaussianMixture(5, random_state=s).fit(x).score_samples(x)
    yield "distance to mean", False, lambda x, s: np.linalg.norm(x, axis=1)

    def pyod_vae(x, s):
        from pyod.models.vae import VAE
        import torch
        torch.set_num_threads(2)
        return VAE(random_state=s, verbose=0).fit(x).decision_scores_

    yield "PyOD VAE", True, pyod_vae


def main():
    only = os.environ.get("DETECTORS")
    for path in sys.argv[1:]:
        name = os.path.basename(path)[:-4]
        x, y = load(path)
        for det, randomized, fit in detectors():
            if only and det not in only.split(","):
                continue
            t = time.time()
            aucs, aps = [], []
            try:
                for seed in range(1, 6) if randomized else [1]:
                    s = np.asarray(fit(x, seed), dtype=float)
                    aucs.append(roc_auc_score(y, s))
                    aps.append(average_precision_score(y, s))
                print(f"{name},{det},{statistics.median(aucs):.4f},{statistics.median(aps):.4f},"
                      f"{time.time() - t:.1f}", flush=True)
            except Exception as e:  # noqa: BLE001 - a reference that fails says why, the rest go on
                print(f"{name},{det},,,{type(e).__name__}: {e}".replace("\n", " ")[:200], flush=True)


main()
