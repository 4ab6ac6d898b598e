#!/usr/bin/env bash
# make test-dispatch: the trainer generated with `gen --dispatch x86 --cli` (one binary for any
# x86-64) on the tiny data set. Checks: it says it is the dispatch build, and train names the
# variant it runs; 4 epochs make the loss
# fall and reach valid accuracy >= 0.8; its checkpoint evaluates to the same accuracy and loss
# (within the tests' tolerance) under the scalar trainer (weights are portable); it resumes its own checkpoint, and the
# scalar trainer resumes it too, with a note, to the same epoch-5 valid loss within rounding; --variant
# scalar trains bit for bit as the scalar trainer (metrics and exported weights) and resumes the
# scalar trainer's checkpoint bit for bit as the scalar trainer does; a variant
# not generated, or --variant on a trainer that does not dispatch: one line, exit 2.
#
# A plain build with a CPU family's defaults names the family only where it changes the code.
#
#   tests/dispatch/trainer.sh DISPATCH_CLI SCALAR_CLI TINY_DIR [AVX2_ZEN3_CLI]
set -u
cli=${1:?usage: trainer.sh DISPATCH_CLI SCALAR_CLI TINY_DIR [AVX2_ZEN3_CLI]} scalar=${2:?} tiny=${3:?} fam=${4:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cr-dispatch-trainer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test-dispatch: trainer: FAIL: $*"; exit 1; }

"$cli" --help | head -n 1 | grep -q ", dispatch), generated from" || fail "--help does not name the dispatch build"
"$cli" train --data "$tiny" --epochs 4 --seed 3 --checkpoint "$tmp/a.ckpt" --metrics "$tmp/a.csv" >"$tmp/train.out" \
  || fail "train: $(tail -n 1 "$tmp/train.out")"
first=$(sed -n 2p "$tmp/a.csv" | cut -d, -f2) last=$(sed -n 5p "$tmp/a.csv" | cut -d, -f2)
acc=$(sed -n 5p "$tmp/a.csv" | cut -d, -f4)
awk -v a="$first" -v b="$last" -v c="$acc" 'BEGIN { exit !(b < a / 4 && c >= 0.8) }' ||
  fail "4 epochs: train loss $first -> $last, valid acc $acc"
own=$("$cli" eval --checkpoint "$tmp/a.ckpt" --data "$tiny") || fail "eval: $own"
other=$("$scalar" eval --checkpoint "$tmp/a.ckpt" --data "$tiny") || fail "scalar eval: $other"
# the loss within the tests' tolerance (scalar and SIMD sum in other orders), the accuracy equal
echo "$own $other" | awk '{ for (i = 1; i <= NF; i++) { if ($i == "loss") l[++n] = $(i + 1); if ($i == "accuracy") a[n] = $(i + 1) } }
  END { d = l[1] - l[2]; if (d < 0) d = -d; m = l[2] < 0 ? -l[2] : l[2]; exit !(n == 2 && d <= 1e-5 + 1e-4 * m && a[1] == a[2]) }' ||
  fail "eval differs: dispatch '$own', scalar '$other'"
"$cli" train --data "$tiny" --epochs 5 --resume "$tmp/a.ckpt" --checkpoint "$tmp/b.ckpt" >"$tmp/resume.out" \
  || fail "resume: $(tail -n 1 "$tmp/resume.out")"
grep -q "^epoch 5/5 " "$tmp/resume.out" || fail "resume did not run epoch 5: $(cat "$tmp/resume.out")"
grep -Eq "^dispatch build: the (avx512|avx2|sse2|scalar) variant runs on this CPU$" "$tmp/train.out" ||
  fail "train does not name the variant: $(head -n 2 "$tmp/train.out")"
# Another build resumes it (NAME_opt is laid out alike in every build) with a note: the scalar
# trainer from the dispatch build's epoch 4 ends epoch 5 where the dispatch build's own resume
# did, to rounding (valid loss within 1e-4 relative: equal to its 6 digits here; with the
# momentum buffers zeroed instead of carried over, a mutation tried, it is 29 % higher).
"$scalar" train --data "$tiny" --epochs 5 --resume "$tmp/a.ckpt" --checkpoint "$tmp/c.ckpt" \
  >"$tmp/cross.out" 2>"$tmp/cross.err" || fail "the scalar trainer's resume of the dispatch build's checkpoint: $(cat "$tmp/cross.err")"
# the checkpoint names the variant that wrote it (the one train named)
ran=$(sed -n 's/^dispatch build: the \(.*\) variant runs on this CPU$/\1/p' "$tmp/train.out")
[ "$ran" = scalar ] || grep -q "note: $tmp/a.ckpt was written by the $ran build, this is the scalar build: training goes on" "$tmp/cross.err" ||
  fail "the scalar trainer's resume of the dispatch build's checkpoint (written by its $ran variant): no note ($(cat "$tmp/cross.err"))"
# the dispatch build itself under another variant: the same note, naming the variant
"$cli" train --data "$tiny" --epochs 5 --resume "$tmp/a.ckpt" --checkpoint "$tmp/d.ckpt" --variant sse2 \
  >/dev/null 2>"$tmp/other.err" || fail "--variant sse2 resume: $(cat "$tmp/other.err")"
[ "$ran" = sse2 ] || grep -q "note: $tmp/a.ckpt was written by the $ran build, this is the dispatch build (its sse2 variant): training goes on" "$tmp/other.err" ||
  fail "the dispatch build's resume under --variant sse2 of its $ran variant's checkpoint: no note ($(cat "$tmp/other.err"))"
close() { # two `eval` lines: loss within 1e-4 relative
  echo "$1 $2" | awk '{ for (i = 1; i <= NF; i++) if ($i == "loss") l[++n] = $(i + 1) }
    END { d = l[1] - l[2]; if (d < 0) d = -d; exit !(n == 2 && d <= 1e-4 * l[2]) }'
}
e_own=$("$cli" eval --checkpoint "$tmp/b.ckpt" --data "$tiny") && e_cross=$("$cli" eval --checkpoint "$tmp/c.ckpt" --data "$tiny") ||
  fail "eval after the resumes"
close "$e_own" "$e_cross" || fail "epoch 5 resumed by the scalar trainer: '$e_cross', by the dispatch build: '$e_own'"
# --variant scalar: the scalar trainer's run, bit for bit (same losses to the CSV's 6 digits,
# and the same exported weights)
"$cli" train --data "$tiny" --epochs 2 --seed 5 --variant scalar --checkpoint "$tmp/v.ckpt" --metrics "$tmp/v.csv" \
  >"$tmp/v.out" || fail "train --variant scalar: $(tail -n 1 "$tmp/v.out")"
grep -q "^dispatch build: the scalar variant runs on this CPU$" "$tmp/v.out" || fail "--variant scalar: $(head -n 2 "$tmp/v.out")"
"$scalar" train --data "$tiny" --epochs 2 --seed 5 --checkpoint "$tmp/s.ckpt" --metrics "$tmp/s.csv" >/dev/null ||
  fail "scalar train"
[ "$(cut -d, -f1-4 "$tmp/v.csv")" = "$(cut -d, -f1-4 "$tmp/s.csv")" ] ||
  fail "--variant scalar's metrics differ from the scalar trainer's: $(cat "$tmp/v.csv" "$tmp/s.csv")"
"$cli" export "$tmp/ve" --checkpoint "$tmp/v.ckpt" >/dev/null && "$scalar" export "$tmp/se" --checkpoint "$tmp/s.ckpt" >/dev/null ||
  fail "export"
for f in "$tmp"/se/*.npy; do cmp -s "$f" "$tmp/ve/$(basename "$f")" || fail "--variant scalar: $(basename "$f") differs"; done
# The scalar trainer's checkpoint resumed by the dispatch build under --variant scalar: no note,
# and epoch 3 bit for bit the scalar trainer's own resume (weights, momentum and progress
# carried over across builds, nothing reset).
"$scalar" train --data "$tiny" --epochs 3 --resume "$tmp/s.ckpt" --checkpoint "$tmp/s3.ckpt" >/dev/null || fail "scalar resume"
"$cli" train --data "$tiny" --epochs 3 --variant scalar --resume "$tmp/s.ckpt" --checkpoint "$tmp/v3.ckpt" >/dev/null \
  2>"$tmp/v3.err" || fail "--variant scalar resume of the scalar trainer's checkpoint: $(cat "$tmp/v3.err")"
[ ! -s "$tmp/v3.err" ] || fail "--variant scalar resume of the scalar trainer's checkpoint said: $(cat "$tmp/v3.err")"
"$cli" export "$tmp/v3e" --checkpoint "$tmp/v3.ckpt" >/dev/null && "$scalar" export "$tmp/s3e" --checkpoint "$tmp/s3.ckpt" >/dev/null ||
  fail "export"
for f in "$tmp"/s3e/*.npy; do cmp -s "$f" "$tmp/v3e/$(basename "$f")" || fail "--variant scalar resume: $(basename "$f") differs"; done
if "$cli" eval --checkpoint "$tmp/v.ckpt" --data "$tiny" --variant neon >/dev/null 2>"$tmp/neon.err"; then
  fail "--variant neon accepted"
fi
grep -q "^mnist_mlp_cli eval: --variant 'neon': this build has no such variant" "$tmp/neon.err" ||
  fail "--variant neon: $(cat "$tmp/neon.err")"
if "$scalar" eval --checkpoint "$tmp/v.ckpt" --data "$tiny" --variant scalar >/dev/null 2>"$tmp/nod.err"; then
  fail "the scalar trainer accepted --variant"
fi
grep -q "was not generated with --dispatch (it is the scalar build)" "$tmp/nod.err" || fail "--variant on scalar: $(cat "$tmp/nod.err")"
# A plain build with a CPU family's defaults names the family in its checkpoints only where they
# change this network's code (gen/driver.lua): zen3's avx2 defaults (a prefetch spread for layers
# wider than the L2) leave mnist_mlp's code as avx2's, so gen --isa avx2 --cpu zen3 builds the
# avx2 trainer: it says avx2, and the dispatch build's avx2 variant resumes its checkpoint
# without a note, to the bytes it resumes it to itself. (test-gen checks a family that changes
# the code is named.)
famsaid="no --cpu zen3 build given"
if [ -z "$fam" ]; then :
elif ! grep -qw avx2 /proc/cpuinfo || ! grep -qw fma /proc/cpuinfo; then
  famsaid="SKIP the --cpu zen3 build's checkpoints (this CPU has no avx2 and fma)"
else
  "$fam" --help | head -n 1 | grep -q ", avx2), generated from" || fail "--help of the --cpu zen3 build: $("$fam" --help | head -n 1)"
  "$fam" train --data "$tiny" --epochs 1 --seed 3 --checkpoint "$tmp/z1.ckpt" >/dev/null 2>"$tmp/z1.err" ||
    fail "the --cpu zen3 build's train: $(cat "$tmp/z1.err")"
  "$fam" train --data "$tiny" --epochs 2 --resume "$tmp/z1.ckpt" --checkpoint "$tmp/z2.ckpt" >/dev/null 2>"$tmp/z2.err" ||
    fail "the --cpu zen3 build's resume: $(cat "$tmp/z2.err")"
  [ ! -s "$tmp/z2.err" ] || fail "the --cpu zen3 build's resume of its own checkpoint said: $(cat "$tmp/z2.err")"
  "$cli" train --data "$tiny" --epochs 2 --resume "$tmp/z1.ckpt" --checkpoint "$tmp/z3.ckpt" --variant avx2 >/dev/null \
    2>"$tmp/z3.err" || fail "--variant avx2 resume of the --cpu zen3 build's checkpoint: $(cat "$tmp/z3.err")"
  [ ! -s "$tmp/z3.err" ] || fail "--variant avx2 resume of the --cpu zen3 build's checkpoint said: $(cat "$tmp/z3.err")"
  cmp -s "$tmp/z2.ckpt" "$tmp/z3.ckpt" || fail "--variant avx2 resumed the --cpu zen3 build's checkpoint to other bytes"
  famsaid="gen --cpu zen3's avx2 build of mnist_mlp is avx2's code and says avx2 (the avx2 variant resumes its checkpoint silently, to the same bytes)"
fi
echo "test-dispatch: trainer (gen --dispatch x86 --cli): loss $first -> $last, valid acc $acc in 4 epochs; eval agrees" \
  "under the scalar trainer; resumed to epoch 5, by the scalar trainer too (same valid loss to 1e-4);" \
  "--variant scalar gives the scalar trainer's bits, resuming the scalar trainer's checkpoint too; $famsaid"
