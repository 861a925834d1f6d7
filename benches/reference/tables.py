"""Reading a benchmark table for the reference methods, as vaetool reads it: the columns a
NAME.flags file beside the table names as categorical are one-hot encoded, the others parsed as
numbers with missing cells filled by the column's mean; `id` and the label column left out."""
import csv
import os

import numpy as np


def load_table(path, label):
    """Returns (features, labels as strings, names of the feature columns before encoding)."""
    with open(path) as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    flags = path[:-4] + ".flags"
    cat = set()
    if os.path.exists(flags):
        words = open(flags).read().split()
        if "--categorical" in words:
            cat = set(words[words.index("--categorical") + 1].split(","))
    y = [r[head.index(label)] for r in body]
    cols, names = [], []
    for j, h in enumerate(head):
        if h in ("id", label):
            continue
        names.append(h)
        vals = [r[j] for r in body]
        if h in cat:
            for level in sorted(set(vals)):
                cols.append(np.array([v == level for v in vals], dtype=float))
            continue
        x = np.array([float(v) if v not in ("", "NA", "nan") else np.nan for v in vals])
        x[np.isnan(x)] = np.nanmean(x)
        cols.append(x)
    return np.column_stack(cols), y, names


def standardize(x):
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    return (x - x.mean(axis=0)) / sd
