"""Summarizes a development benchmark's results (benches/anomaly.sh, benches/clustering.sh):
CSV lines `table,detector,score1,…,scoreN[,seconds]`, N the number of --names (the last line
of a table and detector counts). Prints Markdown: each table's scores by detector, the means, the mean ranks (1 =
best; ties share the mean rank), each detector's worst gap to a baseline, and the
leave-one-table-out check of choosing among the vaetool variants (every detector whose name
starts with "vaetool"): for each table left out, the variant with the best mean first score on
the other tables is chosen, and its score on the left-out table counts. The mean of those
held-out scores beside each variant's own mean says whether choosing by this benchmark
generalizes.

    python3 benches/reference/summary.py benches/out/anomaly.csv [--baseline IsolationForest]
        [--names "ROC-AUC,AP"] [--only vaetool,IsolationForest,…]
"""
import argparse
import csv
import statistics


def ranks(values):
    """Ranks, 1 = highest; ties share their mean rank."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in order[i:j + 1]:
            out[k] = (i + j) / 2 + 1
        i = j + 1
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("--baseline", default="IsolationForest")
    p.add_argument("--names", default="ROC-AUC,AP")
    p.add_argument("--only", default="")
    a = p.parse_args()
    names = a.names.split(",")
    res, tables, dets = {}, [], []
    for row in csv.reader(open(a.results)):
        try:
            scores = tuple(float(row[2 + i]) for i in range(len(names)))
        except (ValueError, IndexError):
            continue  # a failed run: its line says why
        t, d = row[0], row[1]
        if a.only and d not in a.only.split(","):
            continue
        res[(t, d)] = scores
        if t not in tables:
            tables.append(t)
        if d not in dets:
            dets.append(d)
    # only tables every detector has
    tables = [t for t in tables if all((t, d) in res for d in dets)]
    if not tables:
        raise SystemExit("no table has results for every detector")
    print(f"| table | {' | '.join(dets)} |")
    print("|---" * (len(dets) + 1) + "|")
    for t in tables:
        cells = [" / ".join(f"{v:.4f}" for v in res[(t, d)]) for d in dets]
        print(f"| {t} | {' | '.join(cells)} |")
    for k, n in enumerate(names):
        means = [statistics.mean(res[(t, d)][k] for t in tables) for d in dets]
        print(f"| **mean {n}** | {' | '.join(f'**{m:.4f}**' for m in means)} |")
    for k, n in enumerate(names):
        rk = {d: [] for d in dets}
        for t in tables:
            for d, r in zip(dets, ranks([res[(t, d)][k] for d in dets])):
                rk[d].append(r)
        print(f"| mean rank, {n} | {' | '.join(f'{statistics.mean(rk[d]):.2f}' for d in dets)} |")
    if a.baseline in dets:
        gaps = []
        for d in dets:
            g = min(res[(t, d)][0] - res[(t, a.baseline)][0] for t in tables)
            worst = min(tables, key=lambda t: res[(t, d)][0] - res[(t, a.baseline)][0])
            gaps.append(f"{g:+.4f} ({worst})")
        print(f"| worst {names[0]} gap to {a.baseline} | {' | '.join(gaps)} |")
    print(f"\n{len(tables)} tables, {len(dets)} detectors.")
    variants = [d for d in dets if d.startswith("vaetool")]
    if len(variants) > 1:
        print("\nLeave-one-table-out choice among the vaetool variants "
              f"(chosen by mean {names[0]} on the other tables):\n")
        held = {k: [] for k in range(len(names))}
        chosen = []
        for t in tables:
            rest = [u for u in tables if u != t]
            best = max(variants, key=lambda d: statistics.mean(res[(u, d)][0] for u in rest))
            chosen.append(best)
            for k in held:
                held[k].append(res[(t, best)][k])
        for k, n in enumerate(names):
            own = ", ".join(f"{d} {statistics.mean(res[(t, d)][k] for t in tables):.4f}"
                            for d in variants)
            print(f"- {n}: held-out mean of the LOO choice {statistics.mean(held[k]):.4f}; "
                  f"each variant's mean: {own}")
        counts = {d: chosen.count(d) for d in variants if chosen.count(d)}
        print(f"- chosen: {', '.join(f'{d} ({c} of {len(tables)})' for d, c in counts.items())}")


main()
