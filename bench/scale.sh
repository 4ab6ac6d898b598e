#!/usr/bin/env bash
# make bench-scale: training throughput with 1 and 2 threads (train --shards 2 --threads T)
# next to PyTorch with 1 and 2 threads, on Fashion-MNIST (--data fashion).
#
#   bench/scale.sh SCALE_DIR TRAINER_DIR ROUNDS PYTHON [MPIRUN]
#
# With MPIRUN (and SCALE_DIR/mpi/scale_mlp_cli, the MPI build), 784-256-256-10 also runs as
# mpirun -np 1 and -np 2 --distributed --shards 2 (one thread per rank).
#
# One line per configuration: the best training samples/s over ROUNDS alternating rounds
# (the trainer's "done:" line: steps only, no validation), then the ratios. The load average
# is printed first and last: on a shared machine the ratios are only as good as the idle cores.
set -eu
dir=${1:?} tdir=${2:?} rounds=${3:-3} py=${4:-/usr/bin/python3} mpirun=${5:-}
big=$dir/scale_mlp_cli fmlp=$tdir/fashion_mlp_cli
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cr-scale.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "# bench-scale: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"

# rate NAME CLI ARGS...: one epoch's training samples/s, kept as the best of NAME
declare -A best
rate() {
  local name=$1 r; shift
  local cmd=() a
  for a in "$@"; do
    cmd+=("$a")
    case "$a" in *_cli) cmd+=(train --data fashion --epochs 1 --seed 1) ;; esac
  done
  r=$("${cmd[@]}" | sed -n 's/^done: .*(\([0-9]*\) samples\/s).*/\1/p')
  [ -n "$r" ] || { echo "bench-scale: $name failed" >&2; exit 1; }
  if [ -z "${best[$name]:-}" ] || [ "$r" -gt "${best[$name]}" ]; then best[$name]=$r; fi
}
configs=(
  "big_s1_t1|$big"
  "big_s2_t1|$big --shards 2 --threads 1"
  "big_s2_t2|$big --shards 2 --threads 2"
  "fmlp_s1_t1|$fmlp"
  "fmlp_s2_t1|$fmlp --shards 2 --threads 1"
  "fmlp_s2_t2|$fmlp --shards 2 --threads 2"
)
if [ -n "$mpirun" ] && [ -x "$dir/mpi/scale_mlp_cli" ]; then
  if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
  configs+=("mpi_np1_s2|$mpirun -q -np 1 $dir/mpi/scale_mlp_cli --shards 2 --distributed"
            "mpi_np2_s2|$mpirun -q -np 2 $dir/mpi/scale_mlp_cli --shards 2 --distributed")
fi
for ((i = 0; i < rounds; i++)); do
  for c in "${configs[@]}"; do
    # shellcheck disable=SC2086
    rate "${c%%|*}" ${c#*|}
  done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-44s %12s\n' "chainrule trainer, one Fashion-MNIST epoch" "samples/s"
for c in "${configs[@]}"; do printf '  %-42s %12s\n' "${c%%|*}" "${best[${c%%|*}]}"; done
echo "784-256-256-10 B=256: 2 threads / 1 thread (S=2): $(ratio "${best[big_s2_t2]}" "${best[big_s2_t1]}")x, vs unsharded 1 thread: $(ratio "${best[big_s2_t2]}" "${best[big_s1_t1]}")x"
if [ -n "${best[mpi_np2_s2]:-}" ]; then
  echo "784-256-256-10 B=256, mpirun --distributed --shards 2: -np 2 / -np 1: $(ratio "${best[mpi_np2_s2]}" "${best[mpi_np1_s2]}")x"
fi
echo "784-256-10 B=64 (fashion_mlp): 2 threads / 1 thread (S=2): $(ratio "${best[fmlp_s2_t2]}" "${best[fmlp_s2_t1]}")x, vs unsharded 1 thread: $(ratio "${best[fmlp_s2_t2]}" "${best[fmlp_s1_t1]}")x"
if "$py" -c 'import torch' 2>/dev/null; then
  "$py" bench/torch_scale.py "$rounds"
else
  echo "# pytorch: not installed, skipped"
fi
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
