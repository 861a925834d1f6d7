"""The reference for `--k auto` (vaetool 9, item 6): K chosen by the lowest BIC of a
full-covariance GMM (scikit-learn defaults) over K = 2..10 on the raw features, prepared as in
cluster_refs.py (standardized; pixel tables scaled to [0, 1]; categorical columns one-hot;
missing cells the column's mean), seeds 1-5. Prints one CSV line per table, as
benches/k_auto.sh:

    table,GMM-BIC (raw),true K,K chosen with seeds 1..5,hits

    python3 benches/reference/k_refs.py datasets/iris.csv:species datasets/clustering/*.csv

With `--summary FILE` it prints FILE's lines (benches/out/k_auto.csv) as the Markdown table of
benches/RESULTS.md: per table the K chosen with each seed, then each method's hits (runs that
found the number of classes) and mean |chosen K - true K|.
"""
import sys
import warnings

import numpy as np
from sklearn.mixture import GaussianMixture

from cluster_refs import load

warnings.filterwarnings("ignore")


def summary(path):
    rows = {}
    for line in open(path):
        table, method, k, chosen, _ = line.strip().split(",")
        rows.setdefault(method, {})[table] = (int(k), chosen.split())
    methods = list(rows)
    tables = [t for t in rows[methods[0]] if all(t in rows[m] for m in methods)]
    print("| table | K | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for t in tables:
        k = rows[methods[0]][t][0]
        print(f"| {t} | {k} | " + " | ".join(" ".join(rows[m][t][1]) for m in methods) + " |")
    for what in ("hits", "mean abs. error"):
        cells = []
        for m in methods:
            pairs = [(rows[m][t][0], int(c)) for t in tables for c in rows[m][t][1] if c.isdigit()]
            runs = len(tables) * len(rows[m][tables[0]][1])
            if what == "hits":
                h = sum(k == c for k, c in pairs)
                cells.append(f"**{h}/{runs} ({h / runs:.0%})**")
            else:
                cells.append(f"{np.mean([abs(k - c) for k, c in pairs]):.2f}")
        print(f"| {what} | | " + " | ".join(cells) + " |")


def main():
    if sys.argv[1:2] == ["--summary"]:
        summary(sys.argv[2])
        return
    for spec in sys.argv[1:]:
        name, x, y = load(spec)
        k = y.max() + 1
        chosen = []
        for seed in range(1, 6):
            bic = [GaussianMixture(c, random_state=seed).fit(x).bic(x) for c in range(2, 11)]
            chosen.append(2 + int(np.argmin(bic)))
        hits = sum(c == k for c in chosen)
        print(f"{name},GMM-BIC (raw),{k},{' '.join(map(str, chosen))},{hits}", flush=True)


if __name__ == "__main__":
    main()
