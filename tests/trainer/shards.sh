#!/usr/bin/env bash
# train --shards S --threads T (trainer/train_shard.c, train_pool.c) end to end, on the
# trainers `make test-trainer` builds with ASan + UBSan and the tiny data set:
#
#   tests/trainer/shards.sh BIN_DIR TINY_DIR
#
# The bits must depend on S only: checkpoints byte-identical for T = 1, 2, 4 (S = 2, 4, and
# S = 32 with empty shards in the last batch), --shards 1 byte-identical to a run without the
# flags, resume exact; S > 1 computes the same maths (close to S = 1, not equal: the check can
# fail); bad shard counts are one line, exit 2, no checkpoint. Prints one line per check.
set -u
bin=${1:?usage: shards.sh BIN_DIR TINY_DIR}
tiny=${2:?usage: shards.sh BIN_DIR TINY_DIR}
cli=$bin/mnist_mlp_cli
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cr-shards.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "  ok    $1"; }
bad() { fail=$((fail + 1)); echo "  FAIL  $1"; [ $# -gt 1 ] && printf '        %s\n' "${@:2}"; return 0; }
# run NAME CMD...: stdout/stderr in $tmp/NAME.out/.err, status in $rc
run() { local name=$1; shift; "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; rc=$?; }
# train NAME CLI ARGS...: a 2-epoch run (seed 3) writing $tmp/NAME.ckpt and $tmp/NAME.csv
train() {
  local name=$1 c=$2; shift 2
  run "$name" "$c" train --data "$tiny" --epochs 2 --seed 3 --checkpoint "$tmp/$name.ckpt" \
    --metrics "$tmp/$name.csv" "$@"
  [ "$rc" -eq 0 ] || bad "$name: exit status $rc" "$(head -c 300 "$tmp/$name.err")"
}
# same_bits WHAT A B...: checkpoints A, B, ... exist and are byte-identical
same_bits() {
  local what=$1 a=$2 f; shift 2
  [ -s "$tmp/$a.ckpt" ] || { bad "$what" "no checkpoint $a"; return; }
  for f in "$@"; do
    cmp -s "$tmp/$a.ckpt" "$tmp/$f.ckpt" || { bad "$what" "$a.ckpt and $f.ckpt differ"; return; }
  done
  ok "$what"
}

echo "shard tests: $cli on $tiny"
train plain "$cli"
train s1t4 "$cli" --shards 1 --threads 4
same_bits "--shards 1 --threads 4 is the unsharded run, bit for bit" plain s1t4

for S in 2 4; do
  for T in 1 2 4; do train "s${S}t$T" "$cli" --shards "$S" --threads "$T"; done
  same_bits "--shards $S: threads 1, 2, 4 give byte-identical checkpoints" "s${S}t1" "s${S}t2" "s${S}t4"
done
# batch 32 over 600 rows: the last batch has 24 rows for 32 shards, 8 of them empty
train e1 "$cli" --batch 32 --shards 32 --threads 1
train e3 "$cli" --batch 32 --shards 32 --threads 3
same_bits "--batch 32 --shards 32 (empty shards in the last batch): threads 1 and 3 agree" e1 e3

# Sharding sums the same gradient in another order: other bits, nearly the same numbers.
# Relative difference of the epoch-2 valid_loss, S = 4 and S = 32 (uneven last batch) vs S = 1.
train b32 "$cli" --batch 32
if cmp -s "$tmp/plain.ckpt" "$tmp/s4t1.ckpt"; then
  bad "--shards 4 gave the unsharded bits (the comparisons above could not fail)"
else
  ok "--shards 4 gives other bits than --shards 1 (the comparisons can fail)"
fi
close() {  # close WHAT CSV_A CSV_B: valid_loss of epoch 2 within 1e-3 relative
  local a b
  a=$(awk -F, 'NR == 3 { print $3 }' "$1") b=$(awk -F, 'NR == 3 { print $3 }' "$2")
  awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= 1e-3 * a) }'
}
if close "$tmp/plain.csv" "$tmp/s4t2.csv"; then ok "--shards 4 trains like --shards 1 (valid_loss within 1e-3)"
else bad "--shards 4 is not the same maths as --shards 1" "$(cat "$tmp/plain.csv" "$tmp/s4t2.csv")"; fi
if close "$tmp/b32.csv" "$tmp/e3.csv"; then ok "--shards 32 with empty shards trains like --shards 1 (valid_loss within 1e-3)"
else bad "--shards 32 is not the same maths as --shards 1" "$(cat "$tmp/b32.csv" "$tmp/e3.csv")"; fi

# resume: 1 epoch, then resume to 2 with other threads, equals 2 epochs straight
run r1 "$cli" train --data "$tiny" --epochs 1 --seed 3 --checkpoint "$tmp/r.ckpt" --metrics "$tmp/r.csv" --shards 4 --threads 2
run r2 "$cli" train --data "$tiny" --epochs 2 --resume "$tmp/r.ckpt" --metrics "$tmp/r.csv" --shards 4 --threads 1
same_bits "--shards 4: 1 epoch + resume 1 epoch (threads 2 then 1) == 2 epochs straight" s4t1 r
if [ -s "$tmp/r2.err" ]; then bad "resume with the same --shards: no note expected" "$(cat "$tmp/r2.err")"
else ok "resume with the checkpoint's --shards: nothing on stderr"; fi
# resume with another --shards: goes on, with a note (the checkpoint's "shards" part); a
# checkpoint without that part (written before it existed: the part stripped) resumes silently
run r3 "$cli" train --data "$tiny" --epochs 3 --resume "$tmp/r.ckpt" --checkpoint "$tmp/r3.ckpt" --shards 2
if [ "$rc" -eq 0 ] && [ -s "$tmp/r3.ckpt" ] && [ "$(wc -l <"$tmp/r3.err")" -eq 1 ] &&
   grep -q "note: .*r\.ckpt was trained with --shards 4, this run uses --shards 2: .*resume with --shards 4" "$tmp/r3.err"; then
  ok "resume with another --shards: trains on, one note naming both counts"
else bad "resume with another --shards" "exit $rc" "$(cat "$tmp/r3.err")"; fi
if command -v python3 >/dev/null 2>&1; then
python3 - "$tmp/r.ckpt" "$tmp/old.ckpt" <<'PY'
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
hb, = struct.unpack_from("<I", b, 12)
n, = struct.unpack_from("<I", b, 96)
assert bytes(b[104 + 40 * (n - 1):136 + 40 * (n - 1)]).rstrip(b"\0") == b"shards"
last, = struct.unpack_from("<Q", b, 136 + 40 * (n - 1))
payload = b[hb:len(b) - last]
h = bytearray(b[:104 + 40 * (n - 1)])
struct.pack_into("<I", h, 12, hb - 40)
struct.pack_into("<I", h, 96, n - 1)
h += struct.pack("<QI", len(payload), zlib.crc32(payload))
h += struct.pack("<I", zlib.crc32(bytes(h)))
open(sys.argv[2], "wb").write(bytes(h) + payload)
PY
run r4 "$cli" train --data "$tiny" --epochs 3 --resume "$tmp/old.ckpt" --checkpoint "$tmp/r4.ckpt" --shards 2
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/r4.err" ] && cmp -s "$tmp/r3.ckpt" "$tmp/r4.ckpt"; then
  ok "a checkpoint without the shards part (an older trainer's) resumes, silently, to the same bits"
else bad "resume from a checkpoint without the shards part" "exit $rc" "$(cat "$tmp/r4.err")"; fi
else
  echo "  skip  a checkpoint without the shards part (no python3 to strip it)"
fi

# dropout: a mask stream per shard and epoch (tests/trainer/specs/drop_mlp.lua)
drop=$bin/drop_mlp_cli
train d1 "$drop" --shards 4 --threads 1
train d2 "$drop" --shards 4 --threads 2
train d0 "$drop"
same_bits "dropout, --shards 4: threads 1 and 2 give byte-identical checkpoints" d1 d2
if [ -s "$tmp/d0.ckpt" ] && ! cmp -s "$tmp/d0.ckpt" "$tmp/d1.ckpt"; then
  ok "dropout, --shards 4: other bits than the unsharded run"
else bad "dropout, --shards 4 gave the unsharded bits"; fi
run dr1 "$drop" train --data "$tiny" --epochs 1 --seed 3 --checkpoint "$tmp/dr.ckpt" --metrics "$tmp/dr.csv" --shards 4 --threads 2
run dr2 "$drop" train --data "$tiny" --epochs 2 --resume "$tmp/dr.ckpt" --metrics "$tmp/dr.csv" --shards 4 --threads 2
same_bits "dropout, --shards 4: resume draws the straight run's masks" d1 dr

# an image network: the conv kernels' stack tiles on worker threads
cnn=$bin/mnist_cnn_cli
for T in 1 2; do
  run "c$T" "$cnn" train --data "$tiny" --epochs 1 --seed 5 --batch 16 --shards 2 --threads "$T" --checkpoint "$tmp/c$T.ckpt"
done
same_bits "conv net, --shards 2: threads 1 and 2 agree" c1 c2

# a step gone non-finite: the sharded step tests the summed gradient per slice (on the
# threads) and the trainer stops as unsharded, naming the gradient, whatever T
for T in 1 2; do
  rm -f "$tmp/nan$T.ckpt"
  run "nan$T" "$cli" train --data "$tiny" --epochs 2 --seed 3 --lr 1e30 --shards 4 --threads "$T" \
    --checkpoint "$tmp/nan$T.ckpt"
done
if [ "$rc" -eq 1 ] && [ ! -e "$tmp/nan1.ckpt" ] && [ ! -e "$tmp/nan2.ckpt" ] &&
   grep -q "non-finite values at step .*gradient of layer" "$tmp/nan1.err" && cmp -s "$tmp/nan1.err" "$tmp/nan2.err"; then
  ok "--lr 1e30 --shards 4: stops at the non-finite gradient, named, threads 1 and 2 alike, no checkpoint"
else bad "--lr 1e30 --shards 4: not stopped as it should" "exit $rc" "$(cat "$tmp/nan1.err" "$tmp/nan2.err")"; fi

# bad shard counts: one line, exit 2, no checkpoint written
while IFS=$'\t' read -r want c args; do
  [ -z "$want" ] && continue
  rm -f "$tmp/bad.ckpt"
  # shellcheck disable=SC2086
  run bad "$bin/$c" train --data "$tiny" --checkpoint "$tmp/bad.ckpt" $args
  if [ "$rc" -eq 2 ] && [ ! -e "$tmp/bad.ckpt" ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] &&
     grep -Eq -- "$want" "$tmp/bad.err"; then
    ok "refused: $c $args"
  else
    bad "refused: $c $args" "exit $rc, checkpoint $([ -e "$tmp/bad.ckpt" ] && echo written || echo absent)" "$(cat "$tmp/bad.err")"
  fi
done <<EOF
--shards 3 does not divide the batch 64 \(the spec's\)	mnist_mlp_cli	--shards 3
--shards 3 does not divide the batch 40$	mnist_mlp_cli	--batch 40 --shards 3 --threads 2
--shards 3: the shards are summed in a binary tree, so their number must be a power of two	mnist_mlp_cli	--batch 60 --shards 3
--shards 6: the shards are summed in a binary tree	mnist_mlp_cli	--batch 60 --shards 6 --threads 2
option '--shards' needs an integer from 1 to 256, got '0'	mnist_mlp_cli	--shards 0
option '--shards' needs an integer from 1 to 256, got '512'	mnist_mlp_cli	--shards 512
option '--threads' needs an integer from 1 to 1024, got '0'	mnist_mlp_cli	--threads 0
layer 2 is a batchnorm, whose batch statistics cannot be cut into shards	bn_drop_mlp_cli	--shards 2
option '--distributed' needs the MPI build of this trainer	mnist_mlp_cli	--distributed --shards 2
EOF
# a resumed run whose checkpoint's batch (64) the shard count does not divide
run badr "$cli" train --data "$tiny" --epochs 3 --resume "$tmp/plain.ckpt" --shards 6
if [ "$rc" -eq 2 ] && grep -q "does not divide the batch 64 (the checkpoint's)" "$tmp/badr.err" &&
   [ "$(wc -l <"$tmp/badr.err")" -eq 1 ] &&
   cmp -s "$tmp/plain.ckpt" "$tmp/s1t4.ckpt"; then
  ok "refused on --resume: --shards 6 for the checkpoint's batch 64 (checkpoint untouched)"
else bad "--resume with a bad shard count" "exit $rc" "$(cat "$tmp/badr.err")"; fi

echo "shards: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
