"""Reference clusterings for the development benchmark (vaetool 9), each given the true K:
scikit-learn's K-means (n_init 10), full-covariance GMM, Ward agglomerative and spectral
clustering, and UMAP (umap-learn, K dimensions, min_dist 0) followed by a GMM — the anchors a
data scientist tries first. Inputs: numeric columns standardized (pixel tables, whose columns
share one range, scaled to [0, 1] instead), categorical ones (a NAME.flags file beside the
table) one-hot encoded, missing cells filled with the column's mean. Randomized methods run
with seeds 1-5 and report the median. Tables over 5,000 rows skip Ward and spectral (their
memory grows with the square of the rows). Prints one CSV line per table and method:

    table,method,acc,nmi,ari,seconds

    python3 benches/reference/cluster_refs.py datasets/iris.csv:species datasets/clustering/*.csv

A table's label column is `label`, or names it after a colon.
"""
import os
import statistics
import sys
import time
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.mixture import GaussianMixture

from tables import load_table, standardize

warnings.filterwarnings("ignore")


def load(spec):
    path, _, label = spec.partition(":")
    x, y, names = load_table(path, label or "label")
    if all(n.startswith("pixel_") for n in names):
        x = x / max(x.max(), 1.0)
    else:
        x = standardize(x)
    _, yi = np.unique(y, return_inverse=True)
    return os.path.basename(path)[:-4], x, yi


def acc(y, p):
    k = max(y.max(), p.max()) + 1
    m = np.zeros((k, k))
    for a, b in zip(y, p):
        m[a, b] += 1
    r, c = linear_sum_assignment(-m)
    return m[r, c].sum() / len(y)


def methods(n):
    yield "K-means", True, lambda x, k, s: KMeans(k, n_init=10, random_state=s).fit_predict(x)
    yield "GMM", True, lambda x, k, s: GaussianMixture(k, random_state=s).fit(x).predict(x)
    if n <= 5000:
        yield "Ward", False, lambda x, k, s: AgglomerativeClustering(k).fit_predict(x)
        yield "spectral", True, lambda x, k, s: SpectralClustering(
            k, random_state=s, affinity="nearest_neighbors").fit_predict(x)

    def umap_gmm(x, k, s):
        import umap
        e = umap.UMAP(n_components=k, min_dist=0.0, random_state=s).fit_transform(x)
        return GaussianMixture(k, random_state=s).fit(e).predict(e)

    yield "UMAP+GMM", True, umap_gmm


def versions():
    """The versions of the packages behind the references: UMAP + GMM's numbers have differed
    between sessions whose environments differed, while repeating within one."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("numpy", "scipy", "scikit-learn", "umap-learn", "pynndescent", "numba"):
        try:
            out.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            out.append(f"{pkg} missing")
    return ", ".join(out)


def main():
    print(f"# references with {versions()}", file=sys.stderr)
    only = os.environ.get("METHODS")
    for spec in sys.argv[1:]:
        name, x, y = load(spec)
        k = y.max() + 1
        for m, randomized, fit in methods(len(y)):
            if only and m not in only.split(","):
                continue
            t = time.time()
            try:
                scores = []
                for seed in range(1, 6) if randomized else [1]:
                    p = np.asarray(fit(x, k, seed))
                    scores.append((acc(y, p), normalized_mutual_info_score(y, p),
                                   adjusted_rand_score(y, p)))
                med = [statistics.median(s[i] for s in scores) for i in range(3)]
                print(f"{name},{m},{med[0]:.4f},{med[1]:.4f},{med[2]:.4f},{time.time() - t:.1f}",
                      flush=True)
            except Exception as e:  # noqa: BLE001 - a reference that fails says why
                print(f"{name},{m},,,,{type(e).__name__}: {e}".replace("\n", " ")[:200], flush=True)


if __name__ == "__main__":
    main()
