#!/usr/bin/env bash
# Checks the runtime's tools end to end (run by `make test-runtime`):
#   make_tiny writes one data set in four formats that all load to the same numbers;
#   mnist_json2idx converts a package-shaped directory and rejects a broken one with one line.
# Usage: tests/runtime/tools_test.sh TOOLS_DIR SCRATCH_DIR
set -eu
tools=$1
tmp=$2
rm -rf "$tmp" && mkdir -p "$tmp"
fail() { echo "tools_test: FAIL: $*" >&2; exit 1; }
checks=0

# --- make_tiny: every format gives the same labels, mean and std -----------------------
"$tools/make_tiny" "$tmp/tiny" 60 20 >/dev/null
ref=""
for x in "train-images-idx3-ubyte train-labels-idx1-ubyte" \
         "train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz" \
         "train-x.npy train-y.npy" "train.csv"; do
  # shellcheck disable=SC2086
  set -- $x
  out=$("$tools/datainfo" "$tmp/tiny/$1" ${2:+"$tmp/tiny/$2"} | tail -n 2)
  [ -z "$ref" ] && ref=$out
  [ "$out" = "$ref" ] || fail "make_tiny: $1 loads differently:
$out
versus
$ref"
  checks=$((checks + 1))
done
echo "$ref" | grep -q "0:" || fail "make_tiny: no label counts in: $ref"
# Deterministic: a second run writes the same bytes.
"$tools/make_tiny" "$tmp/tiny2" 60 20 >/dev/null
for f in train-images-idx3-ubyte.gz train-x.npy valid.csv; do
  cmp -s "$tmp/tiny/$f" "$tmp/tiny2/$f" || fail "make_tiny: $f differs between two runs"
  checks=$((checks + 1))
done

# --- mnist_json2idx on a small package-shaped directory ------------------------------
pkg=$tmp/pkg
mkdir -p "$pkg/src/digits"
for d in 0 1 2 3 4 5 6 7 8 9; do
  # two 28x28 images per digit: pixel values d/10 and 1 - d/10, with three decimals
  awk -v d="$d" 'BEGIN { printf "{ \"data\": ["; n = 0;
    for (k = 0; k < 2; k++) for (i = 0; i < 784; i++) {
      v = (k == 0) ? d / 10 : 1 - d / 10; printf "%s%.3f", (n++ ? "," : ""), v }
    printf "] }\n" }' > "$pkg/src/digits/$d.json"
done
"$tools/mnist_json2idx" "$pkg" "$tmp/mnist" 15 >/dev/null
info=$("$tools/datainfo" "$tmp/mnist/train-images-idx3-ubyte" "$tmp/mnist/train-labels-idx1-ubyte" | head -n 1)
case "$info" in *"15 samples of 784 values (28x28)"*) ;; *) fail "mnist_json2idx train: $info" ;; esac
info=$("$tools/datainfo" "$tmp/mnist/valid-images-idx3-ubyte" "$tmp/mnist/valid-labels-idx1-ubyte" | head -n 1)
case "$info" in *"5 samples of 784 values"*) ;; *) fail "mnist_json2idx valid: $info" ;; esac
checks=$((checks + 2))
# Broken inputs: one line naming the file, exit status 1, no output directory.
printf '{ "data": [0.5, 0.25, "x"] }' > "$pkg/src/digits/3.json"
set +e
msg=$("$tools/mnist_json2idx" "$pkg" "$tmp/broken" 2>&1); rc=$?
set -e
[ "$rc" = 1 ] || fail "mnist_json2idx: exit $rc on a broken file"
[ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] || fail "mnist_json2idx: more than one line: $msg"
case "$msg" in "$pkg/src/digits/3.json: value 2"*) ;; *) fail "mnist_json2idx: message '$msg'" ;; esac
[ ! -e "$tmp/broken" ] || fail "mnist_json2idx: wrote output for a broken package"
checks=$((checks + 3))
rm -f "$pkg/src/digits/7.json"
set +e
msg=$("$tools/mnist_json2idx" "$pkg" "$tmp/broken" 2>&1); rc=$?
set -e
[ "$rc" = 1 ] && case "$msg" in *"3.json"*|*"7.json: cannot open"*) true ;; *) false ;; esac ||
  fail "mnist_json2idx: missing file gave rc $rc, '$msg'"
checks=$((checks + 1))

rm -rf "$tmp"
echo "tools_test: $checks checks passed"
