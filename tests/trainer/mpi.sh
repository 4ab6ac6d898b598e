#!/usr/bin/env bash
# train --distributed under Open MPI's mpirun (trainer/mpi/train_mpi.c, trainer/train_shard.c):
#
#   tests/trainer/mpi.sh BIN_DIR TINY_DIR MPIRUN
#
# BIN_DIR holds the MPI builds of mnist_mlp_cli, drop_mlp_cli and adam_mlp_cli (make
# test-mpi). Every mpirun run is compared with the same binary run alone (no mpirun) with the same --shards:
# byte-identical checkpoints for -np 1, 2, 4 (--oversubscribe: 2 cores here), resume under
# another -np, a killed rank ending the job with mpirun's message and the last checkpoint
# intact, refused starts (one line from the trainer, exit 2, no checkpoint).
set -u
bin=${1:?usage: mpi.sh BIN_DIR TINY_DIR MPIRUN}
tiny=${2:?usage: mpi.sh BIN_DIR TINY_DIR MPIRUN}
mpirun=${3:-mpirun}
cli=$bin/mnist_mlp_cli
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cr-mpi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# root in containers and CI: Open MPI refuses it unless told
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
mpi() { "$mpirun" -q --oversubscribe "$@"; }

pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "  ok    $1"; }
bad() { fail=$((fail + 1)); echo "  FAIL  $1"; [ $# -gt 1 ] && printf '        %s\n' "${@:2}"; return 0; }
run() { local name=$1; shift; "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; rc=$?; }
same() {  # same WHAT A B...: checkpoints byte-identical
  local what=$1 a=$2 f; shift 2
  [ -s "$tmp/$a.ckpt" ] || { bad "$what" "no $a.ckpt: $(head -c 300 "$tmp/$a.err")"; return; }
  for f in "$@"; do
    cmp -s "$tmp/$a.ckpt" "$tmp/$f.ckpt" || { bad "$what" "$a.ckpt and $f.ckpt differ" "$(head -c 300 "$tmp/$f.err")"; return; }
  done
  ok "$what"
}
args=(train --data "$tiny" --epochs 2 --seed 3 --shards 4)

echo "mpi tests: $cli with $mpirun"
run alone "$cli" "${args[@]}" --checkpoint "$tmp/alone.ckpt"
for np in 1 2 4; do
  run "np$np" mpi -np "$np" "$cli" "${args[@]}" --distributed --threads 2 --checkpoint "$tmp/np$np.ckpt"
done
same "mpirun -np 1, 2, 4 --distributed == one process, --shards 4, bit for bit" alone np1 np2 np4
if [ "$(grep -c '^epoch' "$tmp/np4.out")" -eq 2 ]; then ok "rank 0 alone prints the epoch lines"
else bad "epoch lines of -np 4" "$(cat "$tmp/np4.out")"; fi

# resume with another number of ranks
run h1 mpi -np 4 "$cli" train --data "$tiny" --epochs 1 --seed 3 --shards 4 --distributed --checkpoint "$tmp/h.ckpt"
run h2 mpi -np 2 "$cli" train --data "$tiny" --epochs 2 --shards 4 --distributed --resume "$tmp/h.ckpt"
same "1 epoch on 4 ranks + --resume on 2 ranks == one process, 2 epochs" alone h

# empty shards in the last batch (600 rows: 24 of batch 32, 8 of batch 16): rank 3 of 4 and
# ranks 8..15 of 16 have no rows in it, and their partial sums stay out of the tree
run e1 "$cli" train --data "$tiny" --epochs 2 --seed 3 --batch 32 --shards 32 --checkpoint "$tmp/e1.ckpt"
run e2 mpi -np 4 "$cli" train --data "$tiny" --epochs 2 --seed 3 --batch 32 --shards 32 --distributed \
  --checkpoint "$tmp/e2.ckpt"
same "empty shards: mpirun -np 4 --shards 32 --batch 32 == one process" e1 e2
run f1 "$cli" train --data "$tiny" --epochs 1 --seed 3 --batch 16 --shards 16 --checkpoint "$tmp/f1.ckpt"
run f2 mpi -np 16 "$cli" train --data "$tiny" --epochs 1 --seed 3 --batch 16 --shards 16 --distributed \
  --checkpoint "$tmp/f2.ckpt"
same "empty ranks: mpirun -np 16 --shards 16 --batch 16 == one process" f1 f2

# dropout: the shard streams follow the shard, not the rank
run dalone "$bin/drop_mlp_cli" "${args[@]}" --checkpoint "$tmp/dalone.ckpt"
run dnp2 mpi -np 2 "$bin/drop_mlp_cli" "${args[@]}" --distributed --checkpoint "$tmp/dnp2.ckpt"
same "dropout: mpirun -np 2 == one process (--shards 4)" dalone dnp2

# Adam: each rank steps its own floats, the moments are gathered for rank 0's checkpoint
acli=$bin/adam_mlp_cli
run aalone "$acli" "${args[@]}" --checkpoint "$tmp/aalone.ckpt"
run aalone1 "$acli" "${args[@]}" --epochs 1 --checkpoint "$tmp/aalone1.ckpt"
run anp2 mpi -np 2 "$acli" "${args[@]}" --distributed --checkpoint "$tmp/anp2.ckpt"
run anp2e1 mpi -np 2 "$acli" "${args[@]}" --epochs 1 --distributed --checkpoint "$tmp/anp2e1.ckpt"
same "Adam: the epoch-1 checkpoint of mpirun -np 2 == one process (moments of both ranks)" aalone1 anp2e1
cp "$tmp/anp2e1.ckpt" "$tmp/ares.ckpt"
run ares mpi -np 4 "$acli" train --data "$tiny" --epochs 2 --shards 4 --distributed --resume "$tmp/ares.ckpt"
same "Adam: 2 ranks, 2 epochs and 1 epoch on 2 ranks + --resume on 4 ranks == one process" aalone anp2 ares

# a step gone non-finite: every rank stops at the same step, rank 0 names the same gradient
# element as one process (the flag and the summed gradient of every rank's floats reach all)
nan=(train --data "$tiny" --epochs 2 --seed 3 --lr 1e30 --shards 4)
run nanalone "$cli" "${nan[@]}"
for np in 2 4; do
  run "nannp$np" mpi -np "$np" "$cli" "${nan[@]}" --distributed
  if [ "$rc" -eq 1 ] && grep -q "non-finite values at step" "$tmp/nanalone.err" &&
     [ "$(grep "train: " "$tmp/nannp$np.err")" = "$(cat "$tmp/nanalone.err")" ]; then
    ok "--lr 1e30: mpirun -np $np stops with the one-process line, exit 1"
  else
    bad "--lr 1e30 under -np $np" "exit $rc" "$(cat "$tmp/nanalone.err")" "$(cat "$tmp/nannp$np.err")"
  fi
done

# a rank killed mid-run: mpirun ends the job naming it, the last checkpoint stays readable
mkdir -p "$tmp/k"
"$mpirun" --oversubscribe -np 2 "$cli" train --data "$tiny" --shards 2 --distributed --epochs 100000 \
  --checkpoint "$tmp/k/k.ckpt" >"$tmp/kill.out" 2>"$tmp/kill.err" &
mp=$!
for _ in $(seq 300); do [ -s "$tmp/k/k.ckpt" ] && break; sleep 0.1; done
victim=
for p in $(pgrep -P "$mp"); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
done
if [ -n "$victim" ]; then
  kill -9 "$victim"
  wait "$mp"
  jrc=$?
  run keval "$cli" eval --checkpoint "$tmp/k/k.ckpt" --data "$tiny"
  if [ "$jrc" -ne 0 ] && grep -q "rank 1 .*signal 9" "$tmp/kill.err" &&
     grep -q "accuracy" "$tmp/keval.out" && [ "$(ls -A "$tmp/k")" = "k.ckpt" ]; then
    ok "rank 1 killed mid-run: job fails (exit $jrc, mpirun names rank 1), checkpoint intact, no stray files"
  else
    bad "killed rank" "exit $jrc" "$(cat "$tmp/kill.err")" "$(cat "$tmp/keval.err")" "$(ls -A "$tmp/k")"
  fi
else
  kill "$mp" 2>/dev/null; wait "$mp" 2>/dev/null
  bad "killed rank: no rank 1 found under mpirun (pid $mp)"
fi

# refused starts: exit 2, the trainer's one line, no checkpoint
refused() {  # refused NAME REGEX CMD...
  local name=$1 want=$2; shift 2
  rm -f "$tmp/bad.ckpt"
  run "$name" "$@"
  local lines
  lines=$(grep -c "^mnist_mlp_cli train: " "$tmp/$name.err")
  if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -Eq -- "$want" "$tmp/$name.err" && [ ! -e "$tmp/bad.ckpt" ]; then
    ok "refused: $name"
  else
    bad "refused: $name" "exit $rc, $lines trainer lines" "$(cat "$tmp/$name.err")"
  fi
}
refused outside "needs the job launcher: mpirun" "$cli" train --data "$tiny" --distributed --checkpoint "$tmp/bad.ckpt"
refused badopt "option '--epochs'" mpi -np 2 "$cli" train --data "$tiny" --epochs x --distributed --checkpoint "$tmp/bad.ckpt"
refused share "--shards 6 over 2 ranks: every rank needs the same power-of-two" \
  mpi -np 2 "$cli" train --data "$tiny" --batch 48 --shards 6 --distributed --checkpoint "$tmp/bad.ckpt"
refused seeds "rank 1 of 2 was started with other options" \
  mpi -np 1 "$cli" train --data "$tiny" --shards 2 --distributed --seed 1 --checkpoint "$tmp/bad.ckpt" : \
      -np 1 "$cli" train --data "$tiny" --shards 2 --distributed --seed 2 --checkpoint "$tmp/bad.ckpt"
refused data "rank 1 of 2 was started with other data" \
  mpi -np 1 "$cli" train --data "$tiny" --shards 2 --distributed --checkpoint "$tmp/bad.ckpt" : \
      -np 1 "$cli" train --train-images "$tiny/valid-x.npy" --train-labels "$tiny/valid-y.npy" \
      --valid-images "$tiny/valid-x.npy" --valid-labels "$tiny/valid-y.npy" --shards 2 --distributed --checkpoint "$tmp/bad.ckpt"
refused spec "rank 1 of 2 was started with another network" \
  mpi -np 1 "$cli" train --data "$tiny" --shards 2 --distributed --checkpoint "$tmp/bad.ckpt" : \
      -np 1 "$bin/drop_mlp_cli" train --data "$tiny" --shards 2 --distributed --checkpoint "$tmp/bad.ckpt"
refused lr "rank 1 of 2 was started with other initial weights or optimizer state \(seed, --init, --resume, --lr\)" \
  mpi -np 1 "$cli" train --data "$tiny" --shards 2 --distributed --lr 0.1 --checkpoint "$tmp/bad.ckpt" : \
      -np 1 "$cli" train --data "$tiny" --shards 2 --distributed --lr 0.2 --checkpoint "$tmp/bad.ckpt"
# mpirun without --distributed: every rank would train alone and write the same files; each
# refuses with the same line
run alone mpi -np 2 "$cli" train --data "$tiny" --epochs 1 --checkpoint "$tmp/bad.ckpt"
want="train: this is one of 2 processes an MPI launcher started \(OMPI_COMM_WORLD_SIZE\), without --distributed: add --distributed"
if [ "$rc" -ne 0 ] && [ "$(grep -cE "^mnist_mlp_cli $want" "$tmp/alone.err")" -eq 2 ] && [ ! -e "$tmp/bad.ckpt" ]; then
  ok "refused: mpirun -np 2 without --distributed (each rank's line, no checkpoint)"
else
  bad "mpirun -np 2 without --distributed" "exit $rc" "$(cat "$tmp/alone.err")"
fi

# CR_TRAIN_ALONE=1: a sweep, each rank training alone into its own checkpoint (a wrapper picks
# it by rank), each the bytes of the same run started alone
printf '#!/bin/sh\nexec "$@" --checkpoint "%s/alone$OMPI_COMM_WORLD_RANK.ckpt"\n' "$tmp" >"$tmp/sweep.sh"
chmod +x "$tmp/sweep.sh"
run sweep mpi -np 2 -x CR_TRAIN_ALONE=1 "$tmp/sweep.sh" "$cli" train --data "$tiny" --epochs 1 --seed 4
sweep_rc=$rc
run single "$cli" train --data "$tiny" --epochs 1 --seed 4 --checkpoint "$tmp/single.ckpt"
if [ "$sweep_rc" -eq 0 ] && [ "$rc" -eq 0 ] && cmp -s "$tmp/alone0.ckpt" "$tmp/single.ckpt" && cmp -s "$tmp/alone1.ckpt" "$tmp/single.ckpt"; then
  ok "CR_TRAIN_ALONE=1: mpirun -np 2 without --distributed trains each rank alone (each the single run's bytes)"
else
  bad "CR_TRAIN_ALONE=1 sweep" "exit $sweep_rc / $rc" "$(cat "$tmp/sweep.err")" "$(ls "$tmp"/alone*.ckpt 2>&1)"
fi

echo "mpi: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
