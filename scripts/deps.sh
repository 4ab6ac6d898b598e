#!/usr/bin/env bash
# Installs what chainrule needs to build and test, with apt-get. Idempotent: packages
# already present are skipped, and apt-get is not called at all when nothing is missing.
#
#   scripts/deps.sh            build + test (generator, runtime, Check, sanitizers, NEON via qemu
#                              and compiled by gcc too, Cortex-M4 via arm-none-eabi-gcc + newlib +
#                              qemu-system-arm)
#   scripts/deps.sh --bench    also the baselines of `make bench` (OpenBLAS, FANN, PyTorch)
#   scripts/deps.sh --golden   also PyTorch + NumPy for `make golden`
#   scripts/deps.sh --python   also PyTorch + NumPy for `make test-python` (gen --python against torch)
#   scripts/deps.sh --data     also Debian's Fashion-MNIST and gnuplot (for `make demo-fashion`)
#   scripts/deps.sh --mpi      also Open MPI (mpicc, mpirun) for the MPI trainer and `make test-mpi`
set -eu

core="build-essential pkg-config clang libclang-rt-14-dev liblua5.4-dev check zlib1g-dev
      qemu-user libc6-dev-arm64-cross libgcc-12-dev-arm64-cross lld gcc-aarch64-linux-gnu
      gnuplot-nox nodejs npm
      gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm cmake ninja-build"
bench="libopenblas-dev libfann-dev python3-torch python3-numpy"
golden="python3-torch python3-numpy"
python="python3-torch python3-numpy"
data="dataset-fashion-mnist gnuplot-nox"
mpi="openmpi-bin libopenmpi-dev"

want="$core"
for arg in "$@"; do
  case "$arg" in
    --bench)  want="$want $bench" ;;
    --golden) want="$want $golden" ;;
    --python) want="$want $python" ;;
    --data)   want="$want $data" ;;
    --mpi)    want="$want $mpi" ;;
    --all)    want="$want $bench $golden $python $data $mpi" ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scripts/deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  # nodejs/npm may come from elsewhere (e.g. a preinstalled Node); a working command is enough.
  case "$p" in nodejs) command -v node >/dev/null 2>&1 && continue ;; npm) command -v npm >/dev/null 2>&1 && continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "deps: all present"
  exit 0
fi
echo "deps: installing$missing"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
