#!/usr/bin/env bash
# One-class image anomaly benchmark, the standard protocol (Ruff et al. 2018, Deep SVDD): train
# on the images of one class, score held-out images of every class, ROC-AUC with the other
# classes as the anomalies; one line per class, then the mean. vaetool (its defaults for
# images: the MLP, the Gaussian likelihood, the robust score with output variances fitted on
# the training images) runs beside two references fitted on the same training images
# (scikit-learn, when importable): IsolationForest on the pixels, and the distance to the
# class's mean image.
#
#   MNIST (datasets/mnist, 10,000 digits): the first half of every class is the training pool,
#     the second halves of all classes are the test set (about 5,000 images).
#   Fashion-MNIST (datasets/fashion-mnist): the first 2,000 training images of the class; the
#     test set is t10k (10,000 images).
#
# Usage: benches/image_anomaly.sh mnist|fashion-mnist [epochs] [extra vaetool flags...]
# Fetch the images first: datasets/fetch.sh --images
set -euo pipefail
cd "$(dirname "$0")/.."
B="${B:-target/release/vaetool}"
[ -x "$B" ] || cargo build --release
set_name="${1:?mnist or fashion-mnist}"; epochs="${2:-20}"; shift $(( $# >= 2 ? 2 : $# ))
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
python3 - "$set_name" "$work" <<'PY'
import gzip, struct, sys
name, work = sys.argv[1], sys.argv[2]
def idx(path):
    raw = gzip.open(path).read()
    nd = raw[3]
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    return dims, raw[4 + 4 * nd:]
def write(path, dims, data):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", 0x800 + len(dims)) + struct.pack(">" + "I" * len(dims), *dims) + bytes(data))
if name == "mnist":
    (n, h, w), px = idx("datasets/mnist/mnist10k-images-idx3-ubyte.gz")
    _, lab = idx("datasets/mnist/mnist10k-labels-idx1-ubyte.gz")
    by = {c: [i for i in range(n) if lab[i] == c] for c in range(10)}
    train = {c: by[c][: len(by[c]) // 2] for c in range(10)}
    test = sorted(i for c in range(10) for i in by[c][len(by[c]) // 2:])
    tpx, tlab = px, lab
else:
    (n, h, w), px = idx("datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    _, lab = idx("datasets/fashion-mnist/train-labels-idx1-ubyte.gz")
    train = {c: [i for i in range(n) if lab[i] == c][:2000] for c in range(10)}
    (m, _, _), tpx = idx("datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    _, tlab = idx("datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
    test = list(range(m))
d = h * w
write(f"{work}/test-images-idx3-ubyte", (len(test), h, w), b"".join(tpx[i * d:(i + 1) * d] for i in test))
for c in range(10):
    write(f"{work}/train{c}-images-idx3-ubyte", (len(train[c]), h, w), b"".join(px[i * d:(i + 1) * d] for i in train[c]))
    write(f"{work}/test{c}-labels-idx1-ubyte", (len(test),), [0 if tlab[i] == c else 1 for i in test])
print(f"{name}: {len(test)} test images; training images per class: {[len(train[c]) for c in range(10)]}", file=sys.stderr)
PY
have_ref=1; python3 -c "import sklearn" 2>/dev/null || have_ref=0
echo "| class | vaetool ($epochs epochs${*:+, $*}) | IsolationForest | distance to mean |"
echo "|---|---|---|---|"
sum=0; sum_if=0; sum_dm=0
for c in 0 1 2 3 4 5 6 7 8 9; do
  auc=$("$B" anomalies "$work/test-images-idx3-ubyte" --labels "$work/test$c-labels-idx1-ubyte" \
        --train "$work/train$c-images-idx3-ubyte" --epochs "$epochs" -q "$@" -o /dev/null 2>&1 \
        | sed -n 's/.*ROC-AUC \([0-9.]*\).*/\1/p')
  ref="- -"
  [ "$have_ref" = 1 ] && ref=$(python3 - "$work" "$c" <<'PY'
import sys
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
work, c = sys.argv[1], sys.argv[2]
def load(p, n_dims):
    raw = open(p, "rb").read()
    dims = np.frombuffer(raw[4:4 + 4 * n_dims], ">u4")
    return np.frombuffer(raw[4 + 4 * n_dims:], np.uint8).reshape(dims[0], -1) / 255.0
xtr, xte = load(f"{work}/train{c}-images-idx3-ubyte", 3), load(f"{work}/test-images-idx3-ubyte", 3)
y = load(f"{work}/test{c}-labels-idx1-ubyte", 1).ravel() > 0
iso = IsolationForest(random_state=1).fit(xtr)
dm = ((xte - xtr.mean(axis=0)) ** 2).sum(axis=1)
print(f"{roc_auc_score(y, -iso.score_samples(xte)):.4f} {roc_auc_score(y, dm):.4f}")
PY
)
  read -r a_if a_dm <<<"$ref"
  echo "| $c | $auc | $a_if | $a_dm |"
  sum=$(awk -v s="$sum" -v a="$auc" 'BEGIN{print s+a}')
  [ "$have_ref" = 1 ] && sum_if=$(awk -v s="$sum_if" -v a="$a_if" 'BEGIN{print s+a}') && sum_dm=$(awk -v s="$sum_dm" -v a="$a_dm" 'BEGIN{print s+a}')
done
awk -v s="$sum" -v i="$sum_if" -v d="$sum_dm" 'BEGIN{printf "| **mean** | **%.4f** | %.4f | %.4f |\n", s/10, i/10, d/10}'
