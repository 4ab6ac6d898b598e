#!/usr/bin/env bash
# End-to-end tests of the generated trainer (templates/cli.c.tpl + trainer/*.c, runtime/
# cr_ckpt.c) on the tiny data set. `make test-trainer` builds the trainers with ASan +
# UBSan and runs:
#
#   tests/trainer/run.sh BIN_DIR TINY_DIR
#
# BIN_DIR holds mnist_mlp_cli (classifier), seed_mse_cli (regressor), mnist_cnn_cli (images) and
# bn_drop_mlp_cli (batchnorm, dropout: tests/trainer/specs/); TINY_DIR is
# the tiny data set (make tiny-data). Prints one line per check and "N passed, N failed".
set -u
bin=${1:?usage: run.sh BIN_DIR TINY_DIR}
tiny=${2:?usage: run.sh BIN_DIR TINY_DIR}
cli=$bin/mnist_mlp_cli
mse=$bin/seed_mse_cli
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cr-trainer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

pass=0 fail=0 skip=0
ok()   { pass=$((pass + 1)); echo "  ok    $1"; }
bad()  { fail=$((fail + 1)); echo "  FAIL  $1"; [ $# -gt 1 ] && printf '        %s\n' "${@:2}"; return 0; }
skipped() { skip=$((skip + 1)); echo "  skip  $1 ($2)"; }

# run NAME CMD...: runs CMD, keeping stdout in $tmp/NAME.out, stderr in $tmp/NAME.err and
# the exit status in $rc.
run() {
  local name=$1; shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  rc=$?
}
# expect_rc NAME WANT: the last run's exit status.
expect_rc() {
  if [ "$rc" -eq "$2" ]; then return 0; fi
  bad "$1" "exit status $rc, expected $2" "stderr: $(head -c 300 "$tmp/$1.err")"
  return 1
}
# one_line_matching NAME REGEX: stderr is exactly one line and matches REGEX.
one_line_matching() {
  local lines
  lines=$(wc -l <"$tmp/$1.err")
  if [ "$lines" -ne 1 ]; then
    bad "$1" "stderr has $lines lines, expected 1:" "$(head -c 400 "$tmp/$1.err")"
    return 1
  fi
  if ! grep -Eq -- "$2" "$tmp/$1.err"; then
    bad "$1" "stderr does not match /$2/:" "$(cat "$tmp/$1.err")"
    return 1
  fi
  return 0
}
# col FILE N ROW: field N of data row ROW (1-based, header excluded) of a CSV.
col() { awk -F, -v n="$2" -v r="$3" 'NR == r + 1 { print $n }' "$1"; }
# same_exports DIR_A DIR_B: every .npy of A exists in B with identical bytes.
same_exports() {
  local f
  for f in "$1"/*.npy; do cmp -s "$f" "$2/$(basename "$f")" || return 1; done
  return 0
}

echo "trainer tests: $cli, $mse on $tiny"

# --- training works ----------------------------------------------------------------------
run t_train "$cli" train --data "$tiny" --epochs 4 --seed 3 --checkpoint "$tmp/a.ckpt" \
  --metrics "$tmp/a.csv" --plot "$tmp/a.png"
if expect_rc t_train 0; then
  first=$(col "$tmp/a.csv" 2 1) last=$(col "$tmp/a.csv" 2 4) acc=$(col "$tmp/a.csv" 4 4)
  if awk -v a="$first" -v b="$last" -v c="$acc" 'BEGIN { exit !(b < a / 4 && c >= 0.8) }'; then
    ok "classifier: train loss falls ($first -> $last), valid acc $acc >= 0.8 after 4 epochs"
  else
    bad "classifier: loss falls" "train loss $first -> $last, valid acc $acc"
  fi
  if [ "$(head -n 1 "$tmp/a.csv")" = "epoch,train_loss,valid_loss,valid_acc,seconds" ] &&
     [ "$(wc -l <"$tmp/a.csv")" -eq 5 ]; then
    ok "metrics CSV: header and one row per epoch"
  else
    bad "metrics CSV" "$(cat "$tmp/a.csv")"
  fi
  if command -v gnuplot >/dev/null 2>&1; then
    if [ "$(head -c 4 "$tmp/a.png" | od -An -tx1 | tr -d ' ')" = "89504e47" ]; then
      ok "plot: PNG written with gnuplot"
    else
      bad "plot: no PNG at $tmp/a.png"
    fi
  else
    grep -q "plot: skipped" "$tmp/t_train.out" && ok "plot: skipped with a note (no gnuplot)" ||
      bad "plot: no note without gnuplot"
  fi
  if ! grep -q $'\r' "$tmp/t_train.out" && grep -Eq '^epoch 4/4 .*samples/s$' "$tmp/t_train.out"; then
    ok "not a terminal: plain one line per epoch, no progress bar"
  else
    bad "plain output when not a terminal" "$(head -c 300 "$tmp/t_train.out")"
  fi
fi

# Names are data, never gnuplot commands: a newline in --plot or --metrics once ended the
# quoted name in the gnuplot script and ran the next line (system 'touch ...').
if command -v gnuplot >/dev/null 2>&1; then
  pw="$tmp/pwned"   # what `system 'touch pwned'` makes in the working directory, $tmp
  evil_png="$tmp/p
system 'touch pwned'
x.png"
  evil_csv="$tmp/m
system 'touch pwned'
x.csv"
  acli="$(cd "$(dirname "$cli")" && pwd)/$(basename "$cli")" atiny="$(cd "$tiny" && pwd)"
  cd "$tmp" || exit 1
  run t_inject "$acli" train --data "$atiny" --epochs 2 --metrics "$evil_csv" --plot "$evil_png"
  cd - >/dev/null || exit 1
  if expect_rc t_inject 0; then
    if [ ! -e "$pw" ] && [ "$(head -c 4 "$evil_png" | od -An -tx1 | tr -d ' ')" = "89504e47" ] &&
       [ "$(wc -l <"$evil_csv")" -eq 3 ]; then
      ok "--plot/--metrics names with a newline and a gnuplot system command: plain file names, nothing run"
    else
      bad "gnuplot injection" "pwned: $(ls "$pw" 2>&1)" "$(ls "$tmp")"
    fi
  fi
  ls -a "$tmp" | grep -q 'tmp' && bad "a temporary file was left in $tmp" "$(ls -a "$tmp")"
else
  skipped "gnuplot injection" "no gnuplot"
fi

run t_prog "$cli" train --data "$tiny" --epochs 1 --progress
if expect_rc t_prog 0; then
  grep -q $'\r' "$tmp/t_prog.out" && grep -q 'samples/s' "$tmp/t_prog.out" &&
    ok "--progress: progress bar with loss and samples/s" || bad "--progress draws no bar"
fi

run t_mse "$mse" train --data "$tiny" --epochs 4 --seed 3 --metrics "$tmp/m.csv"
if expect_rc t_mse 0; then
  first=$(col "$tmp/m.csv" 2 1) last=$(col "$tmp/m.csv" 2 4) acc=$(col "$tmp/m.csv" 4 4)
  if awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 2) }' && [ -z "$acc" ]; then
    ok "regressor (seed_mse): train loss falls ($first -> $last), no valid_acc column value"
  else
    bad "regressor: loss falls" "$(cat "$tmp/m.csv")"
  fi
fi

# --- determinism and resume ----------------------------------------------------------------
run t_det "$cli" train --data "$tiny" --epochs 4 --seed 3 --checkpoint "$tmp/b.ckpt"
run t_exa "$cli" export "$tmp/ea" --checkpoint "$tmp/a.ckpt"
run t_exb "$cli" export "$tmp/eb" --checkpoint "$tmp/b.ckpt"
if [ -s "$tmp/ea/0.weight.npy" ] && same_exports "$tmp/ea" "$tmp/eb" && cmp -s "$tmp/a.ckpt" "$tmp/b.ckpt"; then
  ok "same seed twice: bitwise-identical weights (export + cmp) and checkpoints"
else
  bad "same seed twice gives different weights"
fi
# --profile: two lines on stderr, the shares of the training loops' wall time (the step's
# first) and their thread CPU time against it, and the same checkpoint as without it; with
# the gather thread (the default on 2+ CPUs) and without it (--no-gather-thread), the same bits
prof_wall="^profile: training loops [0-9.]+ s wall: step [0-9.]+ % \([0-9.]+ us/step\), gather [0-9.]+ % .*(NaN/Inf scan( \+ next gather)?|next gather( \(wait for the gather thread\))?|NaN/Inf test) [0-9.]+ % .*other -?[0-9.]+ %$"
prof_cpu="^profile: training loops [0-9.]+ s thread CPU: [0-9.]+ % of their wall time"
run t_prof "$cli" train --data "$tiny" --epochs 4 --seed 3 --checkpoint "$tmp/prof.ckpt" --profile
if expect_rc t_prof 0 && [ "$(wc -l <"$tmp/t_prof.err")" -eq 2 ] &&
   head -n 1 "$tmp/t_prof.err" | grep -Eq -- "$prof_wall" && tail -n 1 "$tmp/t_prof.err" | grep -Eq -- "$prof_cpu" &&
   cmp -s "$tmp/a.ckpt" "$tmp/prof.ckpt"; then
  ok "--profile: the shares of wall time and the thread CPU time on stderr, checkpoint unchanged"
else
  bad "--profile" "$(cat "$tmp/t_prof.err")"
fi
run t_nogt "$cli" train --data "$tiny" --epochs 4 --seed 3 --checkpoint "$tmp/nogt.ckpt" --no-gather-thread --profile
if expect_rc t_nogt 0 && cmp -s "$tmp/a.ckpt" "$tmp/nogt.ckpt" && ! grep -q "second thread" "$tmp/t_nogt.err"; then
  ok "--no-gather-thread: the batches gathered on the training thread, the same checkpoint"
else
  bad "--no-gather-thread" "$(cat "$tmp/t_nogt.err")"
fi
run t_seed4 "$cli" train --data "$tiny" --epochs 4 --seed 4 --checkpoint "$tmp/c.ckpt"
run t_exc "$cli" export "$tmp/ec" --checkpoint "$tmp/c.ckpt"
if [ -s "$tmp/ec/0.weight.npy" ] && ! cmp -s "$tmp/ea/0.weight.npy" "$tmp/ec/0.weight.npy"; then
  ok "another seed gives other weights (the comparison can fail)"
else
  bad "seed 4 gave the same weights as seed 3"
fi

run t_full "$cli" train --data "$tiny" --epochs 2 --seed 5 --checkpoint "$tmp/full.ckpt" --metrics "$tmp/full.csv"
run t_half "$cli" train --data "$tiny" --epochs 1 --seed 5 --checkpoint "$tmp/half.ckpt" --metrics "$tmp/half.csv"
run t_resume "$cli" train --data "$tiny" --epochs 2 --resume "$tmp/half.ckpt" --metrics "$tmp/half.csv"
if expect_rc t_resume 0; then
  run t_exf "$cli" export "$tmp/ef" --checkpoint "$tmp/full.ckpt"
  run t_exh "$cli" export "$tmp/eh" --checkpoint "$tmp/half.ckpt"
  if cmp -s "$tmp/full.ckpt" "$tmp/half.ckpt" && [ -s "$tmp/ef/0.weight.npy" ] && same_exports "$tmp/ef" "$tmp/eh"; then
    ok "1 epoch + resume 1 epoch == 2 epochs straight, bitwise (checkpoint and weights)"
  else
    bad "resume differs from an uninterrupted run"
  fi
  if [ "$(cut -d, -f1-4 "$tmp/full.csv")" = "$(cut -d, -f1-4 "$tmp/half.csv")" ]; then
    ok "resumed metrics CSV keeps epoch 1 and equals the straight run's losses"
  else
    bad "resumed metrics differ" "$(cat "$tmp/full.csv")" "$(cat "$tmp/half.csv")"
  fi
fi
# --epochs 0: the initialised checkpoint (epoch 0), which resumes as the run from scratch
run t_zero "$cli" train --data "$tiny" --epochs 0 --seed 5 --checkpoint "$tmp/zero.ckpt" --metrics "$tmp/zero.csv" --profile
zero_rc=$rc
run t_zero_res "$cli" train --data "$tiny" --epochs 2 --resume "$tmp/zero.ckpt" --checkpoint "$tmp/zero2.ckpt"
zero_res_rc=$rc
run t_zero_ex "$cli" export "$tmp/ez" --checkpoint "$tmp/zero.ckpt"
if [ "$zero_rc" -eq 0 ] && grep -q "^--epochs 0: the initialised network, nothing trained; no epoch for --metrics or --plot to record$" "$tmp/t_zero.out" &&
   [ ! -e "$tmp/zero.csv" ] && [ "$(cat "$tmp/t_zero.err")" = "profile: no training step was run" ] &&
   grep -q "^checkpoint: .*zero\.ckpt (epoch 0)$" "$tmp/t_zero.out" && ! grep -q "^epoch" "$tmp/t_zero.out" &&
   [ "$zero_res_rc" -eq 0 ] && cmp -s "$tmp/full.ckpt" "$tmp/zero2.ckpt" &&
   [ -s "$tmp/ez/0.weight.npy" ] && ! cmp -s "$tmp/ez/0.weight.npy" "$tmp/ef/0.weight.npy"; then
  ok "--epochs 0 writes the initialised checkpoint (no metrics, a one-line profile); resumed for 2 epochs == 2 epochs straight, bitwise"
else
  bad "--epochs 0" "$(cat "$tmp/t_zero.out" "$tmp/t_zero.err" "$tmp/t_zero_res.err")"
fi

# --- learning-rate schedules: a schedule is a function of the epoch and step counters the
# checkpoint holds, so resuming mid-schedule continues it exactly; the checkpoint keeps the
# base lr, not the last scheduled one (test_sched checks the values against PyTorch)
oc="onecycle:epochs=3,pct_start=0.4"
run t_oc_full "$cli" train --data "$tiny" --epochs 3 --seed 6 --schedule "$oc" --checkpoint "$tmp/ocf.ckpt"
run t_oc_half "$cli" train --data "$tiny" --epochs 1 --seed 6 --schedule "$oc" --checkpoint "$tmp/och.ckpt"
run t_oc_res "$cli" train --data "$tiny" --epochs 3 --resume "$tmp/och.ckpt" --schedule "$oc"
run t_oc_const "$cli" train --data "$tiny" --epochs 3 --seed 6 --checkpoint "$tmp/occ.ckpt"
if expect_rc t_oc_full 0 && expect_rc t_oc_res 0; then
  if cmp -s "$tmp/ocf.ckpt" "$tmp/och.ckpt"; then
    ok "onecycle: 1 epoch + resume 2 epochs == 3 epochs straight, bitwise"
  else
    bad "onecycle resume differs from the uninterrupted run"
  fi
  if ! cmp -s "$tmp/ocf.ckpt" "$tmp/occ.ckpt" && grep -q "lr 0.05 $oc," "$tmp/t_oc_full.out"; then
    ok "onecycle changes the training (checkpoint differs from constant lr) and is named at the start"
  else
    bad "onecycle made no difference or was not announced" "$(head -1 "$tmp/t_oc_full.out")"
  fi
fi
run t_step "$cli" train --data "$tiny" --epochs 2 --seed 6 --schedule step:step_size=1,gamma=0.5 --checkpoint "$tmp/st.ckpt"
run t_step_res "$cli" train --data "$tiny" --epochs 3 --resume "$tmp/st.ckpt" --schedule step:step_size=1,gamma=0.5 --checkpoint "$tmp/st3.ckpt"
run t_step_full "$cli" train --data "$tiny" --epochs 3 --seed 6 --schedule step:step_size=1,gamma=0.5 --checkpoint "$tmp/stf.ckpt"
if expect_rc t_step_res 0 && cmp -s "$tmp/st3.ckpt" "$tmp/stf.ckpt"; then
  ok "step schedule: 2 epochs + resume 1 epoch == 3 epochs straight, bitwise"
else
  bad "step schedule resume differs from the uninterrupted run"
fi
while IFS='|' read -r what want sched; do
  run t_badsched "$cli" train --data "$tiny" --epochs 3 --schedule "$sched" --checkpoint "$tmp/never_s.ckpt"
  expect_rc t_badsched 2 && one_line_matching t_badsched "$want" && [ ! -e "$tmp/never_s.ckpt" ] &&
    ok "--schedule $what: one line, exit 2, nothing written"
done <<LIST
unknown kind|unknown schedule 'warmup'|warmup
bad value|onecycle pct_start must be a number in \(0, 1\), got '2'|onecycle:pct_start=2
shorter than the run|onecycle epochs=2 is fewer than the 3 epochs to train|onecycle:epochs=2
LIST

# A metrics CSV whose rows print far wider than usual (300-digit losses), continued by
# --resume: the writer once sized its buffer at 128 bytes a row (heap overflow under ASan,
# heap bytes in the file without it).
w300="1$(printf '%0300d' 0)"
{ echo "epoch,train_loss,valid_loss,valid_acc,seconds"
  echo "1,$w300.5,-$w300,0.5000,$w300.25"
  echo "2,$w300,$w300,,1.000"; } >"$tmp/wide.csv"
run t_wide "$cli" train --data "$tiny" --epochs 3 --resume "$tmp/half.ckpt" --checkpoint "$tmp/wide.ckpt" \
  --metrics "$tmp/wide.csv"
if expect_rc t_wide 0; then
  c2=$(col "$tmp/wide.csv" 2 1) c3=$(col "$tmp/wide.csv" 3 1) e3=$(col "$tmp/wide.csv" 1 3)
  if [ "${#c2}" -ge 301 ] && [ "${c3:0:1}" = "-" ] && [ "${#c3}" -ge 302 ] && [ "$e3" = 3 ] &&
     [ "$(wc -l <"$tmp/wide.csv")" -eq 4 ] && ! grep -q '[^-0-9.,a-z_]' "$tmp/wide.csv"; then
    ok "--resume with 300-digit metrics rows: rows kept as numbers, epoch 3 appended, no stray bytes"
  else
    bad "wide metrics rows" "$(head -c 400 "$tmp/wide.csv")"
  fi
fi

# --- data formats: IDX, IDX.gz, .npy and CSV train to the same weights ------------------------
run t_gz "$cli" train --train-images "$tiny/train-images-idx3-ubyte.gz" --train-labels "$tiny/train-labels-idx1-ubyte.gz" \
  --valid-images "$tiny/valid-images-idx3-ubyte.gz" --valid-labels "$tiny/valid-labels-idx1-ubyte.gz" \
  --epochs 4 --seed 3 --checkpoint "$tmp/gz.ckpt"
run t_npy "$cli" train --train-images "$tiny/train-x.npy" --train-labels "$tiny/train-y.npy" \
  --valid-images "$tiny/valid-x.npy" --valid-labels "$tiny/valid-y.npy" --epochs 4 --seed 3 --checkpoint "$tmp/npy.ckpt"
run t_csv "$cli" train --train-images "$tiny/train.csv" --valid-images "$tiny/valid.csv" \
  --epochs 4 --seed 3 --checkpoint "$tmp/csv.ckpt"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte valid-images-idx3-ubyte.gz valid-labels-idx1-ubyte.gz; do
  ln -s "$(cd "$tiny" && pwd)/$f" "$tmp/pfx-$f"
done
run t_pfx "$cli" train --data "$tmp/pfx-" --epochs 4 --seed 3 --checkpoint "$tmp/pfx.ckpt"
if cmp -s "$tmp/a.ckpt" "$tmp/gz.ckpt" && cmp -s "$tmp/a.ckpt" "$tmp/npy.ckpt" &&
   cmp -s "$tmp/a.ckpt" "$tmp/csv.ckpt" && cmp -s "$tmp/a.ckpt" "$tmp/pfx.ckpt"; then
  ok "IDX, IDX.gz, .npy, CSV and --data PREFIX inputs give bitwise-identical training"
else
  bad "data formats train differently" "$(cat "$tmp/t_gz.err" "$tmp/t_npy.err" "$tmp/t_csv.err")"
fi

# --no-shuffle: the rows in file order, whatever the seed. The same weights imported under two
# seeds and trained on: in file order to the same weights, shuffled to different ones (which
# also shows this check can fail). Weights are compared through export (a checkpoint also
# records its seed).
run t_ordw "$cli" export "$tmp/ordw" --checkpoint "$tmp/a.ckpt"
for s in 1 2; do
  run t_ordi$s "$cli" import "$tmp/ordw" --checkpoint "$tmp/ord$s.ckpt" --seed $s
  cp "$tmp/ord$s.ckpt" "$tmp/shuf$s.ckpt"
  run t_ord$s "$cli" train --data "$tiny" --epochs 1 --resume "$tmp/ord$s.ckpt" --no-shuffle
  run t_ordx$s "$cli" export "$tmp/ord$s" --checkpoint "$tmp/ord$s.ckpt"
  run t_shuf$s "$cli" train --data "$tiny" --epochs 1 --resume "$tmp/shuf$s.ckpt"
  run t_shufx$s "$cli" export "$tmp/shuf$s" --checkpoint "$tmp/shuf$s.ckpt"
done
if expect_rc t_shufx2 0 && expect_rc t_ordx2 0 && same_exports "$tmp/ord1" "$tmp/ord2" &&
   ! same_exports "$tmp/shuf1" "$tmp/shuf2"; then
  ok "--no-shuffle trains in file order (seed-independent); shuffled runs depend on the seed"
else
  bad "--no-shuffle order" "$(cat "$tmp/t_ord1.err" "$tmp/t_ord2.err" "$tmp/t_shuf2.err")"
fi

# --- eval, predict, export/import ------------------------------------------------------------
run t_eval "$cli" eval --checkpoint "$tmp/a.ckpt" --data "$tiny"
if expect_rc t_eval 0; then
  acc=$(col "$tmp/a.csv" 4 4)
  grep -q "accuracy $acc" "$tmp/t_eval.out" && ok "eval reproduces the last epoch's valid accuracy ($acc)" ||
    bad "eval accuracy differs from training's" "$(cat "$tmp/t_eval.out")" "metrics: $acc"
fi
run t_pred "$cli" predict --checkpoint "$tmp/a.ckpt" --input "$tiny/valid-images-idx3-ubyte"
run t_predn "$cli" predict --checkpoint "$tmp/a.ckpt" --input "$tiny/valid-x.npy" --output "$tmp/pred_npy.txt"
if [ "$(wc -l <"$tmp/t_pred.out")" -eq 200 ] && cmp -s "$tmp/t_pred.out" "$tmp/pred_npy.txt"; then
  # accuracy of the predictions against the labels: the .npy labels' bytes after its header
  # (10 bytes + the little-endian header length at offset 8)
  hl=$(od -An -tu2 -j 8 -N 2 "$tiny/valid-y.npy" | tr -d ' ')
  right=$(od -An -v -tu1 -j $((10 + hl)) "$tiny/valid-y.npy" | tr -s ' ' '\n' | grep -v '^$' | paste -d' ' - "$tmp/t_pred.out" | awk '$1 == $2' | wc -l)
  acc=$(col "$tmp/a.csv" 4 4)
  if awk -v r="$right" -v a="$acc" 'BEGIN { exit !(r / 200 == a + 0) }'; then
    ok "predict: 200 lines from IDX and from .npy, identical, accuracy $right/200 = eval's"
  else
    bad "predict accuracy $right/200 differs from eval's $acc"
  fi
else
  bad "predict output" "$(head -c 200 "$tmp/t_pred.err")"
fi
run t_imp "$cli" import "$tmp/ea" --checkpoint "$tmp/imp.ckpt"
run t_exi "$cli" export "$tmp/ei" --checkpoint "$tmp/imp.ckpt"
if expect_rc t_exi 0 && same_exports "$tmp/ea" "$tmp/ei"; then
  ok "export -> import -> export round trip is bitwise"
fi
# import reads only this network's tensors (a longer network's export is refused, as gen
# --weights refuses it; other files may sit beside them), and writes its checkpoint over none of
# them; export writes over no checkpoint it reads. One line, exit 2, every file unchanged.
cp -r "$tmp/ea" "$tmp/ex2"
cp "$tmp/ea/0.weight.npy" "$tmp/ex2/7.weight.npy"
cp "$tmp/ea/0.bias.npy" "$tmp/ex2/7.bias.npy"
: >"$tmp/ex2/notes.npy"
# refused: one line, exit 2, and (checked apart, so that a file written fails the test too)
# nothing written or changed
refused_io() {   # NAME REGEX WHAT: the command run as NAME was refused with nothing written
  if expect_rc "$1" 2 && one_line_matching "$1" "$2"; then
    if [ -e "$tmp/impx.ckpt" ] || [ "$(cksum "$tmp"/ex2/*)" != "$before" ]; then bad "$3: a file was written"
    else ok "$3"; fi
  fi
}
before=$(cksum "$tmp"/ex2/*)
run t_impx "$cli" import "$tmp/ex2" --checkpoint "$tmp/impx.ckpt"
refused_io t_impx "ex2/7\.bias\.npy: not a tensor of [a-z_]+ \(its tensors: 0\.weight, 0\.bias, .*and norm\.npy\): weights of another network\?$" \
  "import: a state_dict file of another network refused (the first by name)"
rm "$tmp/ex2/7.weight.npy" "$tmp/ex2/7.bias.npy"
before=$(cksum "$tmp"/ex2/*)
run t_impo "$cli" import "$tmp/ex2" --checkpoint "$tmp/ex2/../ex2/0.bias.npy"
refused_io t_impo "option '--checkpoint' .*ex2/0\.bias\.npy: the same file as the tensor file .*ex2/0\.bias\.npy( \(try --help\))?$" \
  "import: --checkpoint over one of its .npy files refused"
# a layer's bias missing beside its weight: the hint names bias = false
mv "$tmp/ex2/0.bias.npy" "$tmp/ex2/0.bias.kept"
run t_imnb "$cli" import "$tmp/ex2" --checkpoint "$tmp/imnb.ckpt"
expect_rc t_imnb 2 && [ ! -e "$tmp/imnb.ckpt" ] &&
  one_line_matching t_imnb "ex2/0\.bias\.npy: .*\(layer 0 made without a bias\? then its spec says \{bias = false\}\)$" &&
  ok "import: a missing N.bias.npy beside N.weight.npy suggests bias = false (exit 2, no checkpoint)"
mv "$tmp/ex2/0.bias.kept" "$tmp/ex2/0.bias.npy"
cp "$tmp/a.ckpt" "$tmp/ex2/norm.npy"
before=$(cksum "$tmp"/ex2/*)
run t_expo "$cli" export "$tmp/ex2" --checkpoint "$tmp/ex2/norm.npy"
refused_io t_expo "the normalisation file .*ex2/norm\.npy: the same file as --checkpoint( \(try --help\))?$" \
  "export: a .npy it writes being the checkpoint it reads refused"
rm "$tmp/ex2/0.bias.npy" && ln -s "$tmp/nodir/x.npy" "$tmp/ex2/0.bias.npy"
before=$(cksum "$tmp"/ex2/0.weight.npy "$tmp"/ex2/norm.npy)
run t_expl "$cli" export "$tmp/ex2" --checkpoint "$tmp/a.ckpt"
if expect_rc t_expl 2 && one_line_matching t_expl "the tensor file .*ex2/0\.bias\.npy: a symbolic link to a missing file \(not followed\)"; then
  if [ "$(cksum "$tmp"/ex2/0.weight.npy "$tmp"/ex2/norm.npy)" = "$before" ]; then ok "export: a dangling link among its files refused before writing any"
  else bad "export: a dangling link: files were written before the refusal"; fi
fi
run t_predi "$cli" predict --checkpoint "$tmp/imp.ckpt" --input "$tiny/valid-x.npy"
cmp -s "$tmp/t_predi.out" "$tmp/pred_npy.txt" && ok "imported checkpoint predicts the same" ||
  bad "imported checkpoint predicts differently"
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  # Independent check of the PyTorch layout: numpy forward with the exported [out][in] weights.
  if /usr/bin/python3 - "$tmp/ea" "$tiny/valid-x.npy" "$tmp/pred_npy.txt" >"$tmp/np.out" 2>&1 <<'EOF'
import sys, numpy as np
d, xs, preds = sys.argv[1:4]
w0, b0 = np.load(d + "/0.weight.npy"), np.load(d + "/0.bias.npy")
w2, b2 = np.load(d + "/2.weight.npy"), np.load(d + "/2.bias.npy")
mean, std = np.load(d + "/norm.npy")
assert w0.shape == (50, 784) and w2.shape == (10, 50) and b0.shape == (50,), (w0.shape, w2.shape)
x = (np.load(xs).reshape(-1, 784).astype(np.float64) - mean) / std
out = np.maximum(x @ w0.T + b0, 0) @ w2.T + b2
want = np.loadtxt(preds, dtype=int)
agree = (out.argmax(1) == want).mean()
print("agree", agree)
sys.exit(0 if agree >= 0.99 else 1)
EOF
  then ok "numpy forward with exported nn.Linear-layout weights agrees with predict ($(cat "$tmp/np.out"))"
  else bad "numpy forward disagrees" "$(cat "$tmp/np.out")"; fi
else
  skipped "numpy check of the export layout" "no numpy for /usr/bin/python3"
fi

# --- checkpoints that must be refused -----------------------------------------------------------
size=$(wc -c <"$tmp/a.ckpt")
head -c $((size - 100)) "$tmp/a.ckpt" >"$tmp/trunc.ckpt"
run t_trunc "$cli" eval --checkpoint "$tmp/trunc.ckpt" --data "$tiny"
expect_rc t_trunc 2 && one_line_matching t_trunc "trunc\.ckpt: checkpoint truncated" && ok "truncated checkpoint refused"
head -c 200 "$tmp/a.ckpt" >"$tmp/trunc2.ckpt"
run t_trunc2 "$cli" eval --checkpoint "$tmp/trunc2.ckpt" --data "$tiny"
expect_rc t_trunc2 2 && one_line_matching t_trunc2 "trunc2\.ckpt: checkpoint truncated" && ok "checkpoint cut inside its header refused"
flip() { # flip FILE OFFSET: xor one byte with 0x10
  local b; b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((b ^ 16)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
cp "$tmp/a.ckpt" "$tmp/flip.ckpt"; flip "$tmp/flip.ckpt" $((size / 2))
run t_flip "$cli" eval --checkpoint "$tmp/flip.ckpt" --data "$tiny"
expect_rc t_flip 2 && one_line_matching t_flip "flip\.ckpt: checkpoint payload corrupt \(CRC32" && ok "bit-flipped payload refused (CRC32)"
cp "$tmp/a.ckpt" "$tmp/fliph.ckpt"; flip "$tmp/fliph.ckpt" 20
run t_fliph "$cli" eval --checkpoint "$tmp/fliph.ckpt" --data "$tiny"
expect_rc t_fliph 2 && one_line_matching t_fliph "fliph\.ckpt: checkpoint header corrupt" && ok "bit-flipped header refused"
printf 'not a checkpoint at all, just text\n' >"$tmp/text.ckpt"
run t_magic "$cli" eval --checkpoint "$tmp/text.ckpt" --data "$tiny"
expect_rc t_magic 2 && one_line_matching t_magic "text\.ckpt: not a chainrule checkpoint" && ok "foreign file refused (magic)"
run t_msek "$mse" train --data "$tiny" --epochs 1 --checkpoint "$tmp/mse.ckpt"
run t_wrong "$cli" eval --checkpoint "$tmp/mse.ckpt" --data "$tiny"
expect_rc t_wrong 2 && one_line_matching t_wrong "mse\.ckpt: checkpoint is for network 'seed_mse', this program trains 'mnist_mlp'" &&
  ok "checkpoint of another network refused"
cp "$tmp/a.ckpt" "$tmp/keep.ckpt"
run t_bad_resume "$cli" train --data "$tiny" --epochs 5 --resume "$tmp/flip.ckpt" --checkpoint "$tmp/keep.ckpt"
expect_rc t_bad_resume 2 && one_line_matching t_bad_resume "flip\.ckpt: checkpoint payload corrupt" &&
  cmp -s "$tmp/a.ckpt" "$tmp/keep.ckpt" && ok "--resume from a corrupt checkpoint: refused, nothing written"

# --- hostile inputs (issue 11): one line, exit 2, at once -----------------------------------------
# Readers take regular files only: a FIFO (no writer: a blocking open would hang until the
# timeout), /dev/zero (endless) and a directory, in every place a file is read.
mkfifo "$tmp/fifo"
mkdir -p "$tmp/adir" "$tmp/fifo-import"
mkfifo "$tmp/fifo-import/0.weight.npy"
while IFS='|' read -r label want args; do
  [ -z "$label" ] && continue
  # shellcheck disable=SC2086
  run t_nonreg timeout 20 "$cli" $args
  if expect_rc t_nonreg 2 && one_line_matching t_nonreg "$want"; then ok "refused at once: $label"; fi
done <<LIST
FIFO as --checkpoint|fifo: is a FIFO, not a regular file|eval --checkpoint $tmp/fifo --data $tiny
FIFO as --resume|fifo: is a FIFO|train --data $tiny --resume $tmp/fifo
FIFO as predict --input|fifo: is a FIFO|predict --checkpoint $tmp/a.ckpt --input $tmp/fifo
FIFO as training images|fifo: is a FIFO|train --train-images $tmp/fifo --train-labels $tiny/train-labels-idx1-ubyte --valid-images $tiny/valid.csv
FIFO as labels|fifo: is a FIFO|train --train-images $tiny/train-images-idx3-ubyte --train-labels $tmp/fifo --valid-images $tiny/valid.csv
FIFO as an import .npy|0\.weight\.npy: is a FIFO|import $tmp/fifo-import --checkpoint $tmp/never2.ckpt
FIFO as --metrics with --resume|fifo: is a FIFO|train --data $tiny --epochs 3 --resume $tmp/half.ckpt --checkpoint $tmp/never3.ckpt --metrics $tmp/fifo
/dev/zero as images|/dev/zero: is a character device|predict --checkpoint $tmp/a.ckpt --input /dev/zero
/dev/zero as checkpoint|/dev/zero: is a character device|eval --checkpoint /dev/zero --data $tiny
a directory as images|adir: is a directory|predict --checkpoint $tmp/a.ckpt --input $tmp/adir
LIST
[ ! -e "$tmp/never2.ckpt" ] && [ ! -e "$tmp/never3.ckpt" ] || bad "a refused run wrote a checkpoint"

# A gzip bomb with a valid IDX header: 600 MB of images in ~600 KB; refused by the inflate
# ratio while inflating (before: 2.5 GB RSS, then training).
if command -v python3 >/dev/null 2>&1; then
  python3 -c '
import sys, zlib
z = zlib.compressobj(9, zlib.DEFLATED, 31)
out = [z.compress(bytes([0, 0, 8, 3, 0, 0x0b, 0xf2, 0x20, 0, 0, 0, 28, 0, 0, 0, 28]))]
chunk = bytes(1 << 20)
for _ in range(600): out.append(z.compress(chunk))
out.append(z.flush())
open(sys.argv[1], "wb").write(b"".join(out))' "$tmp/bomb-images.gz"
  run t_bomb "$cli" predict --checkpoint "$tmp/a.ckpt" --input "$tmp/bomb-images.gz"
  expect_rc t_bomb 2 && one_line_matching t_bomb "bomb-images\.gz: decompresses to more than [0-9]+ bytes, over 100 times" &&
    ok "gzip bomb with an IDX header refused by the inflate ratio"
else
  skipped "gzip bomb" "no python3"
fi

# NaN/Inf in .npy inputs: refused naming the file, sample and value, for eval and predict.
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  /usr/bin/python3 -c '
import sys, numpy as np
x = np.load(sys.argv[1]); x.reshape(x.shape[0], -1)[5, 17] = np.nan; np.save(sys.argv[2], x)' "$tiny/valid-x.npy" "$tmp/nan-x.npy"
  run t_nanp "$cli" predict --checkpoint "$tmp/a.ckpt" --input "$tmp/nan-x.npy"
  expect_rc t_nanp 2 && one_line_matching t_nanp "nan-x\.npy: sample 5 holds NaN at value 17" && [ ! -s "$tmp/t_nanp.out" ] &&
    ok "predict: NaN in an .npy input refused, file/sample/value named, no answers printed"
  run t_nane "$cli" eval --checkpoint "$tmp/a.ckpt" --valid-images "$tmp/nan-x.npy" --valid-labels "$tiny/valid-y.npy"
  expect_rc t_nane 2 && one_line_matching t_nane "nan-x\.npy: sample 5 holds NaN" && ok "eval: NaN in .npy inputs refused"
else
  skipped "NaN in .npy inputs (trainer)" "no numpy"
fi

# Checkpoints with valid CRCs whose numbers no trainer writes: refused with the reason.
# craft IN OUT PART OFFSET STRUCTFMT VALUE: patch one value of a part, recompute both CRCs.
craft() {
  python3 -c '
import struct, sys, zlib
src, dst, part, off, fmt, val = sys.argv[1:7]
b = bytearray(open(src, "rb").read())
hb, = struct.unpack_from("<I", b, 12)
nparts, = struct.unpack_from("<I", b, 96)
pos = hb
for i in range(nparts):
    name = bytes(b[104 + 40 * i:136 + 40 * i]).rstrip(b"\0").decode()
    size, = struct.unpack_from("<Q", b, 136 + 40 * i)
    if name == part:
        struct.pack_into(fmt, b, pos + int(off), float(val) if fmt[-1] in "fd" else int(val))
    pos += size
struct.pack_into("<I", b, hb - 8, zlib.crc32(bytes(b[hb:])))
struct.pack_into("<I", b, hb - 4, zlib.crc32(bytes(b[:hb - 4])))
open(dst, "wb").write(b)' "$@"
}
if command -v python3 >/dev/null 2>&1; then
  craft "$tmp/a.ckpt" "$tmp/negep.ckpt" progress 0 "<q" -3
  craft "$tmp/a.ckpt" "$tmp/nanw.ckpt" params 8 "<f" nan
  craft "$tmp/a.ckpt" "$tmp/neglr.ckpt" opt 0 "<f" -0.5
  craft "$tmp/a.ckpt" "$tmp/bigbatch.ckpt" progress 24 "<q" 100000
  craft "$tmp/a.ckpt" "$tmp/same.ckpt" progress 0 "<q" 4
  craft "$tmp/a.ckpt" "$tmp/negshards.ckpt" shards 0 "<q" -2
  craft "$tmp/a.ckpt" "$tmp/bigshards.ckpt" shards 0 "<q" 128
  craft "$tmp/a.ckpt" "$tmp/odd.ckpt" shards 0 "<q" 3
  craft "$tmp/a.ckpt" "$tmp/hugeshards.ckpt" shards 0 "<q" 512
  run t_same "$cli" eval --checkpoint "$tmp/same.ckpt" --data "$tiny"
  expect_rc t_same 0 && cmp -s "$tmp/same.ckpt" "$tmp/a.ckpt" &&
    ok "checkpoint crafter rewrites the CRCs (the unchanged value gives the same file, accepted)"
  while IFS='|' read -r file cmd want; do
    [ -z "$file" ] && continue
    # shellcheck disable=SC2086
    run t_craft "$cli" $cmd "$tmp/$file" --data "$tiny"
    expect_rc t_craft 2 && one_line_matching t_craft "$want" && ok "crafted checkpoint refused: $file ($cmd)"
  done <<LIST
negep.ckpt|eval --checkpoint|negep\.ckpt: checkpoint's progress is invalid \(epochs -3,
negep.ckpt|train --epochs 9 --resume|negep\.ckpt: checkpoint's progress is invalid
nanw.ckpt|eval --checkpoint|nanw\.ckpt: checkpoint's parameter layer 0 \(linear 784->50\) tensor 0\.weight\[0\]\[2\] is nan
neglr.ckpt|train --epochs 9 --resume|neglr\.ckpt: checkpoint's learning rate is -0\.5
bigbatch.ckpt|eval --checkpoint|bigbatch\.ckpt: checkpoint's progress is invalid .*batch 100000
negshards.ckpt|eval --checkpoint|negshards\.ckpt: checkpoint's shard count -2 is invalid
bigshards.ckpt|train --epochs 9 --resume|bigshards\.ckpt: checkpoint's shard count 128 is invalid \(0, or a power of two up to 256 that divides its batch 64\)
odd.ckpt|eval --checkpoint|odd\.ckpt: checkpoint's shard count 3 is invalid
hugeshards.ckpt|eval --checkpoint|hugeshards\.ckpt: checkpoint's shard count 512 is invalid
LIST
else
  skipped "crafted checkpoints" "no python3"
fi

# Input quirks: .csv.gz trains like .csv; labels next to a CSV are refused (even missing ones);
# predict --input x.npy.gz reads .npy; a gzip file with zero padding after it is read; an --lr
# that rounds to 0 in float is refused.
gzip -c "$tiny/train.csv" >"$tmp/train.csv.gz"
gzip -c "$tiny/valid.csv" >"$tmp/valid.csv.gz"
run t_csvgz "$cli" train --train-images "$tmp/train.csv.gz" --valid-images "$tmp/valid.csv.gz" \
  --epochs 4 --seed 3 --checkpoint "$tmp/csvgz.ckpt"
expect_rc t_csvgz 0 && cmp -s "$tmp/csvgz.ckpt" "$tmp/csv.ckpt" && ok ".csv.gz inputs train bitwise like .csv"
run t_csvlab "$cli" train --train-images "$tiny/train.csv" --train-labels "$tmp/no-such-labels" --valid-images "$tiny/valid.csv"
expect_rc t_csvlab 2 && one_line_matching t_csvlab "train\.csv: a CSV file holds its own labels" && ok "--train-labels next to a .csv refused"
gzip -c "$tiny/valid-x.npy" >"$tmp/vx.npy.gz"
run t_prednpygz "$cli" predict --checkpoint "$tmp/a.ckpt" --input "$tmp/vx.npy.gz"
expect_rc t_prednpygz 0 && cmp -s "$tmp/t_prednpygz.out" "$tmp/pred_npy.txt" && ok "predict --input x.npy.gz reads .npy (same answers)"
{ cat "$tiny/valid-images-idx3-ubyte.gz"; head -c 4096 /dev/zero; } >"$tmp/padded-images.gz"
run t_pad "$cli" predict --checkpoint "$tmp/a.ckpt" --input "$tmp/padded-images.gz"
expect_rc t_pad 0 && cmp -s "$tmp/t_pad.out" "$tmp/t_pred.out" && ok "gzip with 4096 zero bytes of padding after it is read (as gzip -d does)"
run t_tinylr "$cli" train --data "$tiny" --lr 1e-50
expect_rc t_tinylr 2 && one_line_matching t_tinylr "option '--lr' 1e-50 is too small for a float" && ok "--lr 1e-50 refused (it would be 0 in float)"

# --- writers (issue 11): devices, streams and symlinks kept, every write error reported -------------
run t_devfull bash -c "'$cli' predict --checkpoint '$tmp/a.ckpt' --input '$tiny/valid-x.npy' >/dev/full"
expect_rc t_devfull 1 && one_line_matching t_devfull "predict: standard output: write failed: No space left on device" &&
  ok "predict > /dev/full: exit 1, the write error named"
run t_outfull "$cli" predict --checkpoint "$tmp/a.ckpt" --input "$tiny/valid-x.npy" --output /dev/full
expect_rc t_outfull 1 && one_line_matching t_outfull "/dev/full: write failed: No space left on device" &&
  ok "predict --output /dev/full: exit 1, the write error named"
run t_devstdout "$cli" predict --checkpoint "$tmp/a.ckpt" --input "$tiny/valid-x.npy" --output /dev/stdout
expect_rc t_devstdout 0 && cmp -s "$tmp/t_devstdout.out" "$tmp/pred_npy.txt" && ok "predict --output /dev/stdout writes to stdout"
run t_devnull "$cli" predict --checkpoint "$tmp/a.ckpt" --input "$tiny/valid-x.npy" --output /dev/null
expect_rc t_devnull 0 && [ -c /dev/null ] && ok "predict --output /dev/null: written through, /dev/null still a device"
mkdir -p "$tmp/store"
cp "$tmp/half.ckpt" "$tmp/store/real.ckpt"
ln -s store/real.ckpt "$tmp/link.ckpt"
run t_link "$cli" train --data "$tiny" --epochs 3 --resume "$tmp/link.ckpt" --metrics "$tmp/link.csv"
if expect_rc t_link 0 && [ -L "$tmp/link.ckpt" ] && ! cmp -s "$tmp/store/real.ckpt" "$tmp/half.ckpt"; then
  run t_linkev "$cli" eval --checkpoint "$tmp/store/real.ckpt" --data "$tiny"
  expect_rc t_linkev 0 && [ "$(ls -A "$tmp/store")" = "real.ckpt" ] &&
    ok "symlinked checkpoint: the link stays, the file it points to gets epoch 3, nothing else in its folder"
else
  bad "symlinked checkpoint" "$(ls -l "$tmp/link.ckpt" "$tmp/store")"
fi
# Past a file-size limit the checkpoint write fails with a message (SIGXFSZ is ignored), the
# run stops with status 1, and no partial or temporary file is left.
mkdir -p "$tmp/lim"
cp "$tmp/half.ckpt" "$tmp/lim/x.ckpt"
run t_fsize bash -c "ulimit -f 64; exec '$cli' train --data '$tiny' --epochs 3 --resume '$tmp/lim/x.ckpt'"
expect_rc t_fsize 1 && one_line_matching t_fsize "lim/x\.ckpt: write failed: File too large" &&
  cmp -s "$tmp/lim/x.ckpt" "$tmp/half.ckpt" && [ "$(ls -A "$tmp/lim")" = "x.ckpt" ] &&
  ok "checkpoint past ulimit -f: one line, exit 1, old checkpoint intact, no temporary left"

# A plot that cannot be drawn (gnuplot fails) after a good run: the checkpoint and metrics are
# written and named, the failure is one line and the exit status 1.
mkdir -p "$tmp/fakebin"
printf '#!/bin/sh\ncat >/dev/null; exit 3\n' >"$tmp/fakebin/gnuplot" && chmod +x "$tmp/fakebin/gnuplot"
run t_plotfail env PATH="$tmp/fakebin:$PATH" "$cli" train --data "$tiny" --epochs 1 --checkpoint "$tmp/pf.ckpt" \
  --metrics "$tmp/pf.csv" --plot "$tmp/pf.png"
expect_rc t_plotfail 1 && one_line_matching t_plotfail "train: .*pf\.png: gnuplot failed" && [ -s "$tmp/pf.ckpt" ] &&
  grep -q "^checkpoint: $tmp/pf.ckpt (epoch 1)$" "$tmp/t_plotfail.out" && [ ! -e "$tmp/pf.png" ] &&
  ok "--plot when gnuplot fails: exit 1, one line, the checkpoint still written and named"

# --- outputs checked before the first epoch: not an input or another output, a directory -----------
mkdir -p "$tmp/td"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte valid-images-idx3-ubyte valid-labels-idx1-ubyte; do
  cp "$tiny/$f" "$tmp/td/$f"
done
ln -s "$tmp/nodir/x.ckpt" "$tmp/dangling.ckpt"
sums() { cksum "$tmp"/td/* "$tmp/a.ckpt" "$tmp/half.ckpt"; }
before=$(sums)
while IFS=$'\t' read -r want args; do
  [ -z "$want" ] && continue
  # shellcheck disable=SC2086
  run t_clash "$cli" $args
  if [ "$rc" -eq 2 ] && [ ! -s "$tmp/t_clash.out" ] && one_line_matching t_clash "$want" && [ "$(sums)" = "$before" ] &&
     [ ! -e "$tmp/new.ckpt" ] && [ ! -e "$tmp/new.csv" ]; then
    ok "refused before training: $args"
  else
    bad "output clash: $args" "exit status $rc" "$(head -c 300 "$tmp/t_clash.err")" "$(ls "$tmp/td" "$tmp"/new.* 2>&1)"
  fi
done <<EOF
option '--checkpoint' $tmp/td/train-images-idx3-ubyte: the same file as the training images	train --data $tmp/td --epochs 1 --checkpoint $tmp/td/train-images-idx3-ubyte
option '--metrics' $tmp/td/\.\./td/valid-labels-idx1-ubyte: the same file as the validation labels $tmp/td/valid-labels	train --data $tmp/td --epochs 1 --metrics $tmp/td/../td/valid-labels-idx1-ubyte
option '--metrics' $tmp/td/\.\./new\.ckpt: the same file as --checkpoint $tmp/new\.ckpt	train --data $tmp/td --epochs 1 --checkpoint $tmp/new.ckpt --metrics $tmp/td/../new.ckpt
option '--plot' $tmp/new\.csv: the same file as --metrics	train --data $tmp/td --epochs 1 --metrics $tmp/new.csv --plot $tmp/new.csv
option '--metrics' $tmp/half\.ckpt: the same file as --resume	train --data $tmp/td --epochs 3 --resume $tmp/half.ckpt --metrics $tmp/half.ckpt
option '--metrics' $tmp/td/\.\./half\.ckpt: the same file as --resume $tmp/half\.ckpt	train --data $tmp/td --epochs 3 --resume $tmp/half.ckpt --checkpoint $tmp/td/../half.ckpt --metrics $tmp/td/../half.ckpt
option '--checkpoint' $tmp/nodir/new\.ckpt: no directory $tmp/nodir	train --data $tmp/td --epochs 1 --checkpoint $tmp/nodir/new.ckpt
option '--metrics' $tmp/td: a directory, not a file	train --data $tmp/td --epochs 1 --metrics $tmp/td
option '--output' $tmp/td/valid-images-idx3-ubyte: the same file as --input	predict --checkpoint $tmp/a.ckpt --input $tmp/td/valid-images-idx3-ubyte --output $tmp/td/valid-images-idx3-ubyte
option '--output' $tmp/td/\.\./a\.ckpt: the same file as --checkpoint $tmp/a\.ckpt	predict --checkpoint $tmp/a.ckpt --input $tmp/td/valid-images-idx3-ubyte --output $tmp/td/../a.ckpt
option '--checkpoint' $tmp/nodir/new\.ckpt: no directory	import $tmp/nope --checkpoint $tmp/nodir/new.ckpt
option '--checkpoint' $tmp/dangling\.ckpt: a symbolic link to a missing file \(not followed\)	train --data $tmp/td --epochs 1 --checkpoint $tmp/dangling.ckpt
EOF

# --- divergence: NaN/Inf stops training, the last good checkpoint stays --------------------------
cp "$tmp/half.ckpt" "$tmp/good.ckpt"
cp "$tmp/half.ckpt" "$tmp/good_copy.ckpt"
run t_nan "$cli" train --data "$tiny" --epochs 3 --resume "$tmp/good.ckpt" --lr 1e9
if expect_rc t_nan 1 &&
   one_line_matching t_nan "non-finite values at step [0-9]+ \(epoch 3\): loss (nan|-?inf|[-0-9.e+]+), (gradient of layer [0-9]+ \(linear [0-9]+->[0-9]+\) tensor [0-9]\.(weight|bias)(\[[0-9]+\])+ not finite \(that parameter now (nan|-?inf)\)|gradients finite, largest parameter layer [0-9]+ \(linear [0-9]+->[0-9]+\) tensor [0-9]\.(weight|bias)(\[[0-9]+\])+ = [-0-9.e+naif]+); training stopped, last good checkpoint kept: .*good\.ckpt \(epoch 2\)"; then
  if cmp -s "$tmp/good.ckpt" "$tmp/good_copy.ckpt"; then
    ok "huge lr: stopped with step/layer/tensor named, last good checkpoint untouched"
  else
    bad "huge lr: the checkpoint was overwritten"
  fi
fi
run t_nan0 "$cli" train --data "$tiny" --epochs 2 --lr 1e9 --checkpoint "$tmp/never.ckpt"
expect_rc t_nan0 1 && [ ! -e "$tmp/never.ckpt" ] &&
  one_line_matching t_nan0 "non-finite values at step [0-9]+ \(epoch 1\): loss (nan|-?inf), gradient of layer [0-9]+ \(linear [0-9]+->[0-9]+\) tensor [0-9]\.(weight|bias)(\[[0-9]+\])+ not finite \(that parameter now (nan|-?inf)\); training stopped, no checkpoint written yet" &&
  ok "huge lr from scratch: stopped in epoch 1, no checkpoint file created"

# --- bad usage: exit 2 and one line naming the problem ---------------------------------------------
# Each entry: expected-regex <TAB> arguments (split on spaces).
while IFS=$'\t' read -r want args; do
  [ -z "$want" ] && continue
  # shellcheck disable=SC2086
  run t_usage "$cli" $args
  name="usage: $args"
  if [ "$rc" -eq 2 ] && [ ! -s "$tmp/t_usage.out" ] && one_line_matching t_usage "$want"; then
    ok "$name"
  elif [ "$rc" -ne 2 ]; then
    bad "$name" "exit status $rc, expected 2" "$(head -c 200 "$tmp/t_usage.err")"
  elif [ -s "$tmp/t_usage.out" ]; then
    bad "$name" "wrote to stdout: $(head -c 200 "$tmp/t_usage.out")"
  fi
done <<EOF
missing command	
unknown command 'frobnicate'	frobnicate
unknown option '--bogus'	train --bogus
option '--epochs' needs an integer from 0 to	train --epochs -1
option '--epochs' needs an integer from 0 to .* got 'x'	train --epochs x
option '--lr' needs a positive number, got '-1'	train --lr -1
option '--lr' needs a positive number, got 'nan'	train --lr nan
option '--lr' needs a value	train --lr
option '--batch' 65 is larger than the spec's batch 64	train --batch 65 --data $tiny
option '--seed' needs a non-negative integer	train --seed -3
option '--init': unknown scheme 'glorot_magic'	train --init glorot_magic --data $tiny
option '--no-norm' takes no value	train --no-norm=1
option '--resume' does not apply to this command	eval --resume x.ckpt
does-not-exist: no such data directory	train --data $tmp/does-not-exist
no such file|cannot open	train --train-images $tmp/nope-images --train-labels $tmp/nope-labels --valid-images $tmp/nope-images --valid-labels $tmp/nope-labels
label file is needed	train --train-images $tiny/train-images-idx3-ubyte --valid-images $tiny/valid-x.npy --valid-labels $tiny/valid-y.npy
needs --checkpoint FILE	eval --data $tiny
missing\.ckpt: cannot open checkpoint	eval --checkpoint $tmp/missing.ckpt --data $tiny
needs --input FILE	predict --checkpoint $tmp/a.ckpt
valid-y\.npy	predict --checkpoint $tmp/a.ckpt --input $tiny/valid-y.npy
option '--plot' needs --metrics	train --data $tiny --plot $tmp/p.png
unexpected argument 'extra'	train extra
nope.*0\.weight\.npy	import $tmp/nope --checkpoint $tmp/x.ckpt
EOF

# an IDX header that claims 4 billion images in a 16-byte file
printf '\000\000\010\003\377\377\377\377\000\000\000\034\000\000\000\034' >"$tmp/liar-idx"
run t_liar "$cli" predict --checkpoint "$tmp/a.ckpt" --input "$tmp/liar-idx"
expect_rc t_liar 2 && one_line_matching t_liar "liar-idx: " && ok "predict: lying IDX header refused with one line"

run t_help "$cli" --help
expect_rc t_help 0 && grep -q "init-report" "$tmp/t_help.out" && ok "--help lists the commands"
run t_thelp "$cli" train --help
expect_rc t_thelp 0 && grep -q -- "--resume FILE" "$tmp/t_thelp.out" && ok "train --help lists its options"

# --- init report ----------------------------------------------------------------------------------
run t_rep "$cli" init-report --data "$tiny" --rows 200
if expect_rc t_rep 0; then
  # std after the first linear layer: plain randn must be >> simplified Kaiming (~1)
  r=$(awk '$1 == "randn" && $3 == "linear" { print $NF; exit }' "$tmp/t_rep.out")
  k=$(awk '$1 == "simple_kaiming" && $3 == "linear" { print $NF; exit }' "$tmp/t_rep.out")
  dead=$(sed -n 's/^randn: activations first hold inf\/nan after layer \([0-9]*\)$/\1/p' "$tmp/t_rep.out")
  if awk -v r="$r" -v k="$k" -v d="$dead" 'BEGIN { exit !(r > 10 && k > 0.5 && k < 2 && d >= 15 && d <= 45) }' &&
     grep -q '^randn/sqrt(512): finite through all 100 layers' "$tmp/t_rep.out" &&
     grep -q '^relu, kaiming: finite through all 100 layers' "$tmp/t_rep.out"; then
    ok "init report: randn std $r, simple_kaiming std $k, deep randn dies at layer $dead, scaled stacks stay finite"
  else
    bad "init report numbers" "randn $r kaiming $k dead $dead" "$(tail -5 "$tmp/t_rep.out")"
  fi
fi

# --- an image network (specs/mnist_cnn.lua: input = {1, 28, 28}) ---------------------------------
cnn=$bin/mnist_cnn_cli
run t_cnn "$cnn" train --data "$tiny" --epochs 1 --seed 5 --checkpoint "$tmp/cnn.ckpt"
if expect_rc t_cnn 0; then
  # one epoch (slow under the sanitizers): the pipeline runs and the loss gets below chance, ln 10
  tl=$(sed -n 's/^epoch 1\/1  train_loss \([0-9.]*\) .*/\1/p' "$tmp/t_cnn.out")
  if awk -v l="$tl" 'BEGIN { exit !(l != "" && l < 2.3026) }'; then ok "conv net: one epoch on the tiny set, train_loss $tl"
  else bad "conv net: one epoch on the tiny set" "$(cat "$tmp/t_cnn.out")"; fi
  # the spec's `schedule = onecycle{max_lr = 0.05}` reaches the trainer through NAME_cli.c
  if head -1 "$tmp/t_cnn.out" | grep -q "lr 0.02 onecycle:max_lr=0.05, "; then ok "the spec's lr schedule is the run's"
  else bad "the spec's schedule was not used" "$(head -1 "$tmp/t_cnn.out")"; fi
fi
run t_cnnexp "$cnn" export "$tmp/cnnw" --checkpoint "$tmp/cnn.ckpt"
if expect_rc t_cnnexp 0 && [ -f "$tmp/cnnw/0.weight.npy" ] && [ -f "$tmp/cnnw/3.bias.npy" ]; then
  run t_cnnimp "$cnn" import "$tmp/cnnw" --checkpoint "$tmp/cnn2.ckpt"
  run t_cnnev1 "$cnn" eval --checkpoint "$tmp/cnn.ckpt" --data "$tiny"
  run t_cnnev2 "$cnn" eval --checkpoint "$tmp/cnn2.ckpt" --data "$tiny"
  if [ -s "$tmp/t_cnnev1.out" ] && cmp -s "$tmp/t_cnnev1.out" "$tmp/t_cnnev2.out"; then
    ok "conv net: export/import round trip evaluates the same"
  else
    bad "conv net: export/import round trip" "$(cat "$tmp/t_cnnev1.out" "$tmp/t_cnnev2.out" "$tmp/t_cnnimp.err")"
  fi
  # PyTorch's state_dict shapes: nn.Conv2d weight [out][in][kh][kw], nn.Linear [out][in], biases [out]
  if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    shapes=$(/usr/bin/python3 -c 'import numpy as np, sys
print(" ".join(str(np.load(sys.argv[1] + "/" + k + ".npy").shape).replace(" ", "") for k in ("0.weight", "0.bias", "3.weight", "7.weight")))' "$tmp/cnnw")
    if [ "$shapes" = "(6,1,5,5) (6,) (16,6,5,5) (120,400)" ]; then ok "conv net: export writes torch's shapes ($shapes)"
    else bad "conv net: exported shapes" "$shapes"; fi
    # a flattened conv weight (the old export's shape) is refused with one line naming the file
    /usr/bin/python3 -c 'import numpy as np, sys
np.save(sys.argv[1] + "/0.weight.npy", np.load(sys.argv[1] + "/0.weight.npy").reshape(6, 25))' "$tmp/cnnw"
    run t_cnnimp2 "$cnn" import "$tmp/cnnw" --checkpoint "$tmp/cnn3.ckpt"
    expect_rc t_cnnimp2 2 && [ ! -e "$tmp/cnn3.ckpt" ] &&
      one_line_matching t_cnnimp2 "0\.weight\.npy: expected float32 of shape \(6, 1, 5, 5\) \(nn\.Conv2d \[out\]\[in\]\[kh\]\[kw\]\), got float32 of shape \(6, 25\)" &&
      ok "conv net: import refuses a conv weight of another shape (one line, exit 2, no checkpoint)"
  else
    skipped "exported shapes" "no numpy"
  fi
fi
# images of the wrong size: 9 values per sample where the network takes 1x28x28
printf '1,0,0,0,0,0,0,0,0,0\n2,0,0,0,0,0,0,0,0,0\n' >"$tmp/small.csv"
run t_cnnshape "$cnn" train --train-images "$tmp/small.csv" --valid-images "$tmp/small.csv" --epochs 1
expect_rc t_cnnshape 2 &&
  one_line_matching t_cnnshape "small\.csv: samples have 9 values, network mnist_cnn takes 1x28x28 images \(784 values\)" &&
  ok "conv net: images of the wrong size refused with one line (exit 2)"

# --- batchnorm and dropout (tests/trainer/specs/bn_drop_mlp.lua) -------------------------------
bn=$bin/bn_drop_mlp_cli
run t_bnfull "$bn" train --data "$tiny" --epochs 2 --seed 7 --checkpoint "$tmp/bnfull.ckpt"
run t_bnhalf "$bn" train --data "$tiny" --epochs 1 --seed 7 --checkpoint "$tmp/bnhalf.ckpt"
run t_bnres "$bn" train --data "$tiny" --epochs 2 --resume "$tmp/bnhalf.ckpt"
if expect_rc t_bnfull 0 && expect_rc t_bnres 0; then
  # the running statistics are in the checkpoint and the dropout masks come from a stream per
  # epoch: the resumed run must be the straight one, bit for bit
  if cmp -s "$tmp/bnfull.ckpt" "$tmp/bnhalf.ckpt"; then ok "batchnorm + dropout: 1 epoch + resume 1 == 2 epochs, bitwise"
  else bad "batchnorm + dropout: resume differs from the uninterrupted run"; fi
  run t_bnseed "$bn" train --data "$tiny" --epochs 1 --seed 8 --checkpoint "$tmp/bnseed.ckpt"
  run t_bnexp "$bn" export "$tmp/bnw" --checkpoint "$tmp/bnfull.ckpt"
  if expect_rc t_bnexp 0 && [ -f "$tmp/bnw/2.running_mean.npy" ] && [ -f "$tmp/bnw/2.running_var.npy" ] &&
     [ -f "$tmp/bnw/2.num_batches_tracked.npy" ] && [ -f "$tmp/bnw/2.weight.npy" ]; then
    ok "export writes running_mean, running_var, num_batches_tracked (PyTorch's state_dict names)"
  else
    bad "export of the batchnorm state" "$(ls "$tmp/bnw" 2>&1)"
  fi
  # num_batches_tracked counts the training steps: 2 epochs of ceil(samples / 32) batches
  ntr=$(sed -n 's/^bn_drop_mlp: \([0-9]*\) train .*/\1/p' "$tmp/t_bnfull.out")
  nbt=$(od -An -tf4 -j128 "$tmp/bnw/2.num_batches_tracked.npy" | tr -d ' ')
  if [ -n "$ntr" ] && [ "$nbt" = "$(( 2 * ((ntr + 31) / 32) ))" ]; then
    ok "num_batches_tracked after 2 epochs of $ntr samples: $nbt steps"
  else
    bad "num_batches_tracked" "'$nbt' after 2 epochs of '$ntr' samples"
  fi
  if [ ! -e "$tmp/bnw/0.bias.npy" ] && [ -f "$tmp/bnw/0.weight.npy" ]; then
    ok "export of a linear layer without a bias (bias = false): 0.weight.npy and no 0.bias.npy"
  else bad "export of layer 0 (bias = false)" "$(ls "$tmp/bnw" 2>&1)"; fi
  # a layer given a bias it does not have: refused, the layer named
  cp -r "$tmp/bnw" "$tmp/bnwb" && cp "$tmp/bnw/2.bias.npy" "$tmp/bnwb/0.bias.npy"
  run t_bnb0 "$bn" import "$tmp/bnwb" --checkpoint "$tmp/bnb0.ckpt"
  expect_rc t_bnb0 2 && [ ! -e "$tmp/bnb0.ckpt" ] &&
    one_line_matching t_bnb0 "bnwb/0\.bias\.npy: layer 0 of bn_drop_mlp has no bias \(bias = false in its spec\): weights of a network with one\?$" &&
    ok "import: N.bias.npy for a layer without a bias refused, the layer named (exit 2, no checkpoint)"
  run t_bnimp "$bn" import "$tmp/bnw" --checkpoint "$tmp/bnimp.ckpt"
  run t_bnev1 "$bn" eval --checkpoint "$tmp/bnfull.ckpt" --data "$tiny"
  run t_bnev2 "$bn" eval --checkpoint "$tmp/bnimp.ckpt" --data "$tiny"
  run t_bnev3 "$bn" eval --checkpoint "$tmp/bnfull.ckpt" --data "$tiny"
  if [ -s "$tmp/t_bnev1.out" ] && cmp -s "$tmp/t_bnev1.out" "$tmp/t_bnev2.out" && cmp -s "$tmp/t_bnev1.out" "$tmp/t_bnev3.out"; then
    ok "batchnorm: export/import round trip evaluates the same; eval (inference mode) is repeatable"
  else
    bad "batchnorm: eval after export/import" "$(cat "$tmp/t_bnev1.out" "$tmp/t_bnev2.out" "$tmp/t_bnimp.err")"
  fi
  # torch saves num_batches_tracked as a 0-d int64: import takes it (exactly), refuses a
  # count float32 cannot hold exactly and int64 anywhere else
  if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    cp -r "$tmp/bnw" "$tmp/bnw64"
    i64() { /usr/bin/python3 -c 'import numpy as np, sys
np.save(sys.argv[1], np.array(int(sys.argv[2]), dtype=np.int64).reshape(eval(sys.argv[3])))' "$@"; }
    i64 "$tmp/bnw64/2.num_batches_tracked.npy" "$nbt" "()"
    run t_bnimp64 "$bn" import "$tmp/bnw64" --checkpoint "$tmp/bnimp64.ckpt"
    run t_bnexp64 "$bn" export "$tmp/bnw64e" --checkpoint "$tmp/bnimp64.ckpt"
    if expect_rc t_bnimp64 0 && expect_rc t_bnexp64 0 && same_exports "$tmp/bnw" "$tmp/bnw64e"; then
      ok "import: an int64 num_batches_tracked ($nbt) gives the checkpoint the float32 one gives"
    else bad "import of an int64 num_batches_tracked" "$(cat "$tmp/t_bnimp64.err" "$tmp/t_bnexp64.err")"; fi
    i64 "$tmp/bnw64/2.num_batches_tracked.npy" 16777217 "()"
    run t_bnbig "$bn" import "$tmp/bnw64" --checkpoint "$tmp/bnbig.ckpt"
    expect_rc t_bnbig 2 && [ ! -e "$tmp/bnbig.ckpt" ] &&
      one_line_matching t_bnbig "2\.num_batches_tracked\.npy: counter 16777217 out of range \(0 to 2\^24, exact in float32\)" &&
      ok "import: an int64 counter past 2^24 refused (one line, exit 2, no checkpoint)"
    i64 "$tmp/bnw64/2.num_batches_tracked.npy" -1 "()"
    run t_bnneg "$bn" import "$tmp/bnw64" --checkpoint "$tmp/bnneg.ckpt"
    expect_rc t_bnneg 2 && [ ! -e "$tmp/bnneg.ckpt" ] && one_line_matching t_bnneg "counter -1 out of range" &&
      ok "import: a negative int64 counter refused"
    i64 "$tmp/bnw64/2.num_batches_tracked.npy" 5 "(1,)"
    run t_bnvec "$bn" import "$tmp/bnw64" --checkpoint "$tmp/bnvec.ckpt"
    expect_rc t_bnvec 2 && [ ! -e "$tmp/bnvec.ckpt" ] &&
      one_line_matching t_bnvec "2\.num_batches_tracked\.npy: expected float32 of shape \(\) \(a 0-d counter, or torch's int64\), got int64 of shape \(1,\)" &&
      ok "import: an int64 counter of shape (1,) refused, both shapes named"
    i64 "$tmp/bnw64/2.num_batches_tracked.npy" "$nbt" "()"
    /usr/bin/python3 -c 'import numpy as np, sys
np.save(sys.argv[1], np.zeros(24, dtype=np.int64))' "$tmp/bnw64/2.bias.npy"
    run t_bnbias "$bn" import "$tmp/bnw64" --checkpoint "$tmp/bnbias.ckpt"
    expect_rc t_bnbias 2 && [ ! -e "$tmp/bnbias.ckpt" ] &&
      one_line_matching t_bnbias "2\.bias\.npy: expected float32 of shape \(24,\) \(a vector\), got int64 of shape \(24,\)" &&
      ok "import: int64 refused for a tensor that is not a counter"
  else
    skipped "import of an int64 num_batches_tracked" "no numpy"
  fi
  # a batch of 1 row through a batchnorm over features (torch raises there): refused up front
  run t_bnb1 "$bn" train --data "$tiny" --epochs 1 --batch 1 --checkpoint "$tmp/bnb1.ckpt"
  expect_rc t_bnb1 2 && [ ! -e "$tmp/bnb1.ckpt" ] &&
    one_line_matching t_bnb1 "^bn_drop_mlp_cli train: batch 1: layer 2 \(batchnorm\) normalises one value per channel per row and needs at least 2 rows per training step" &&
    ok "batchnorm 1d: --batch 1 refused (one line, exit 2, no checkpoint)"
  head -n 34 "$tiny/train.csv" >"$tmp/train33.csv"   # the header and 33 samples: 32 + 1
  run t_bnlast "$bn" train --train-images "$tmp/train33.csv" --valid-images "$tiny/valid.csv" --epochs 1 \
    --checkpoint "$tmp/bnlast.ckpt"
  expect_rc t_bnlast 2 && [ ! -e "$tmp/bnlast.ckpt" ] &&
    one_line_matching t_bnlast "train33\.csv: 33 samples in batches of 32 leave a last batch of 1 row, and layer 2 \(batchnorm\) needs at least 2 rows per training step .*; choose another --batch$" &&
    ok "batchnorm 1d: a last batch of 1 row refused, the file named (exit 2, no checkpoint)"
  run t_bnlast2 "$bn" train --train-images "$tmp/train33.csv" --valid-images "$tiny/valid.csv" --epochs 1 \
    --batch 11 --checkpoint "$tmp/bnlast2.ckpt"
  expect_rc t_bnlast2 0 && [ -s "$tmp/bnlast2.ckpt" ] && ok "batchnorm 1d: the same 33 samples train in batches of 11"
  run t_cnnb1 "$bin/mnist_cnn_cli" train --train-images "$tmp/train33.csv" --valid-images "$tiny/valid.csv" --epochs 1 \
    --batch 1 --checkpoint "$tmp/cnnb1.ckpt"
  expect_rc t_cnnb1 0 && ok "no batchnorm: --batch 1 still trains"
  if ! cmp -s "$tmp/bnfull.ckpt" "$tmp/bnseed.ckpt"; then ok "batchnorm + dropout: another seed, another run"
  else bad "seeds 7 and 8 gave the same checkpoint"; fi
fi

# init-report through batchnorm (training mode: the batch's statistics, weight 1 and bias 0 as
# initialised) and dropout (training mode: each element kept with probability 1 - p, scaled by
# 1/(1 - p)), for every scheme: after the batchnorm mean 0 and std 1; the dropout keeps the mean
# and multiplies the mean square by 1/(1 - p) = 1.25, within 5 % (200 rows x 24 features)
run t_bnrep "$bn" init-report --data "$tiny" --rows 200
if expect_rc t_bnrep 0; then
  if awk '/^init report/ { next }
      $0 ~ / 1 relu / { m = $(NF - 1) + 0; s = $NF + 0 }
      $0 ~ / 2 batchnorm \(eps 1e-05\) / { bn++; if ($(NF - 1) + 0 > 1e-4 || $(NF - 1) + 0 < -1e-4 || $NF + 0 > 1.0001 || $NF + 0 < 0.999) bad++; m = $(NF - 1) + 0; s = $NF + 0 }
      $0 ~ / 3 dropout \(p 0\.2, training\) / { dr++; mm = $(NF - 1) + 0; ss = $NF + 0
        q = (ss * ss + mm * mm) / ((s * s + m * m) / 0.8); if (q < 0.95 || q > 1.05 || mm - m > 0.05 || m - mm > 0.05) bad++ }
      END { exit !(bn == 5 && dr == 5 && !bad) }' "$tmp/t_bnrep.out"; then
    ok "init report through batchnorm (mean 0, std 1) and dropout (p 0.2: mean kept, mean square x 1.25), 5 schemes"
  else
    bad "init report through batchnorm and dropout" "$(head -n 12 "$tmp/t_bnrep.out")"
  fi
fi

# 1 row through a batchnorm of flat features: no variance (torch refuses it too); the command named once
run t_bnrep1 "$bn" init-report --data "$tiny" --rows 1
expect_rc t_bnrep1 2 && one_line_matching t_bnrep1 "^[^ ]+ init-report: layer 2 is a batchnorm of flat features, whose batch statistics need at least 2 rows \(1 given\)$" &&
  ok "init-report: 1 row through a flat batchnorm refused (one line)"

# the layer table's image fields: --help lists every layer with its shapes and window
run t_cnnhelp "$cnn" --help
expect_rc t_cnnhelp 0 &&
  if grep -Eq '^ +0 conv2d +1x28x28 -> 6x28x28 +kernel 5 stride 1 padding 2$' "$tmp/t_cnnhelp.out" &&
     grep -Eq '^ +5 maxpool2d +16x10x10 -> 16x5x5 +kernel 2 stride 2 padding 0$' "$tmp/t_cnnhelp.out" &&
     grep -Eq '^ +6 flatten +16x5x5 -> 400$' "$tmp/t_cnnhelp.out"; then
    ok "conv net: --help lists the layers with C×H×W shapes, kernel, stride, padding"
  else bad "conv net: --help layer list" "$(grep -A13 '^layers:' "$tmp/t_cnnhelp.out")"; fi

# init report of the conv net: naive conv/pool forward from the layer table, the weight table's
# fans and stds against PyTorch (C·K·K and O·K·K for a conv weight)
run t_cnnrep "$cnn" init-report --data "$tiny" --rows 100
if expect_rc t_cnnrep 0; then
  k=$(awk '$1 == "simple_kaiming" && $3 == "conv2d" { print $NF; exit }' "$tmp/t_cnnrep.out")
  if grep -q '^ *5 maxpool2d 16x10x10->16x5x5 ' "$tmp/t_cnnrep.out" &&
     awk -v k="$k" 'BEGIN { exit !(k > 0.5 && k < 2) }'; then
    ok "conv net: init report runs every layer (simple_kaiming std after conv 0: $k)"
  else bad "conv net: init report" "$(head -20 "$tmp/t_cnnrep.out")"; fi
  if /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null && [ -f "$tmp/cnnw/0.weight.npy" ]; then
    if /usr/bin/python3 "$(dirname "$0")/check_init_fans.py" "$tmp/t_cnnrep.out" "$tmp/cnnw" >"$tmp/fans.out" 2>&1; then
      ok "conv net: init report's fans and weight stds match PyTorch ($(head -1 "$tmp/fans.out"))"
    else bad "conv net: init report vs PyTorch" "$(cat "$tmp/fans.out")"; fi
  else
    skipped "init report vs PyTorch" "no torch or no export"
  fi
fi

# image data that does not fit the network's {1, 28, 28}: one line, exit 2, no predictions
idx_images() {   # idx_images FILE N ROWS COLS: an IDX image file of zero pixels
  printf '\000\000\010\003' >"$1"
  for v in "$2" "$3" "$4"; do
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((v >> 24 & 255)) $((v >> 16 & 255)) $((v >> 8 & 255)) $((v & 255)))" >>"$1"
  done
  head -c $(($2 * $3 * $4)) /dev/zero >>"$1"
}
idx_images "$tmp/x32.idx" 2 32 32
run t_idx32 "$cnn" predict --checkpoint "$tmp/cnn.ckpt" --input "$tmp/x32.idx"
expect_rc t_idx32 2 && [ ! -s "$tmp/t_idx32.out" ] &&
  one_line_matching t_idx32 "x32\.idx: samples have 1024 values, network mnist_cnn takes 1x28x28 images \(784 values\)" &&
  ok "conv net: 32x32 IDX images refused with one line (exit 2)"
idx_images "$tmp/x14.idx" 2 14 56
run t_idx14 "$cnn" predict --checkpoint "$tmp/cnn.ckpt" --input "$tmp/x14.idx"
expect_rc t_idx14 2 && [ ! -s "$tmp/t_idx14.out" ] &&
  one_line_matching t_idx14 "x14\.idx: samples are 14x56 images, network mnist_cnn takes 1x28x28 images" &&
  ok "conv net: 14x56 IDX images (784 values, wrong layout) refused with one line (exit 2)"
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  /usr/bin/python3 -c 'import numpy as np, sys
x = np.load(sys.argv[1]).reshape(-1, 1, 28, 28); np.save(sys.argv[2], x)
np.save(sys.argv[3], np.zeros((4, 3, 32, 32), np.float32))' "$tiny/valid-x.npy" "$tmp/x4d.npy" "$tmp/rgb.npy"
  run t_rgb "$cnn" predict --checkpoint "$tmp/cnn.ckpt" --input "$tmp/rgb.npy"
  expect_rc t_rgb 2 && [ ! -s "$tmp/t_rgb.out" ] &&
    one_line_matching t_rgb "rgb\.npy: samples have 3072 values, network mnist_cnn takes 1x28x28 images \(784 values\)" &&
    ok "conv net: a (4, 3, 32, 32) .npy refused with one line (exit 2)"
  # 784 values per sample but not 1x28x28: refused naming the file and both shapes, nothing
  # written (predict's --output, train's checkpoint)
  /usr/bin/python3 -c 'import numpy as np, sys
x = np.load(sys.argv[1]).reshape(-1, 784)
np.save(sys.argv[2], x.reshape(-1, 1, 14, 56)); np.save(sys.argv[3], x.reshape(-1, 4, 14, 14))' \
    "$tiny/valid-x.npy" "$tmp/x1456.npy" "$tmp/x41414.npy"
  run t_x1456 "$cnn" predict --checkpoint "$tmp/cnn.ckpt" --input "$tmp/x1456.npy" --output "$tmp/x1456.txt"
  expect_rc t_x1456 2 && [ ! -e "$tmp/x1456.txt" ] && [ ! -s "$tmp/t_x1456.out" ] &&
    one_line_matching t_x1456 "x1456\.npy: samples are 1x14x56 images, network mnist_cnn takes 1x28x28 images" &&
    ok "conv net: a (N, 1, 14, 56) .npy refused with one line naming both shapes (exit 2, no output file)"
  run t_x41414 "$cnn" train --train-images "$tmp/x41414.npy" --train-labels "$tiny/valid-y.npy" \
    --valid-images "$tiny/valid-x.npy" --valid-labels "$tiny/valid-y.npy" --epochs 1 --checkpoint "$tmp/x41414.ckpt"
  expect_rc t_x41414 2 && [ ! -e "$tmp/x41414.ckpt" ] &&
    one_line_matching t_x41414 "x41414\.npy: samples are 4x14x14 images, network mnist_cnn takes 1x28x28 images" &&
    ok "conv net: train on a (N, 4, 14, 14) .npy refused with one line (exit 2, no checkpoint)"
  run t_x41414e "$cnn" eval --checkpoint "$tmp/cnn.ckpt" --valid-images "$tmp/x41414.npy" --valid-labels "$tiny/valid-y.npy"
  expect_rc t_x41414e 2 && one_line_matching t_x41414e "x41414\.npy: samples are 4x14x14 images" &&
    ok "conv net: eval on a (N, 4, 14, 14) .npy refused"
  run t_x4d "$cnn" predict --checkpoint "$tmp/cnn.ckpt" --input "$tmp/x4d.npy"
  run t_x3d "$cnn" predict --checkpoint "$tmp/cnn.ckpt" --input "$tiny/valid-x.npy"
  if expect_rc t_x4d 0 && [ -s "$tmp/t_x4d.out" ] && cmp -s "$tmp/t_x4d.out" "$tmp/t_x3d.out"; then
    ok "conv net: a (N, 1, 28, 28) .npy predicts as the (N, 28, 28) one"
  else bad "conv net: (N, 1, 28, 28) .npy" "$(cat "$tmp/t_x4d.err")"; fi
  # 5 dimensions: no layout a network takes (once read flat: 784 values, so the MLP trained)
  /usr/bin/python3 -c 'import numpy as np, sys
np.save(sys.argv[2], np.load(sys.argv[1]).reshape(-1, 1, 1, 28, 28))' "$tiny/valid-x.npy" "$tmp/x5d.npy"
  run t_x5d "$cli" train --train-images "$tmp/x5d.npy" --train-labels "$tiny/valid-y.npy" \
    --valid-images "$tiny/valid-x.npy" --valid-labels "$tiny/valid-y.npy" --epochs 1 --checkpoint "$tmp/x5d.ckpt"
  expect_rc t_x5d 2 && [ ! -e "$tmp/x5d.ckpt" ] &&
    one_line_matching t_x5d "x5d\.npy: samples need 2 to 4 dimensions .*got 5" &&
    ok "classifier: train on a (N, 1, 1, 28, 28) .npy refused with one line (exit 2, no checkpoint)"
  run t_x5dp "$cnn" predict --checkpoint "$tmp/cnn.ckpt" --input "$tmp/x5d.npy" --output "$tmp/x5d.txt"
  expect_rc t_x5dp 2 && [ ! -e "$tmp/x5d.txt" ] && one_line_matching t_x5dp "x5d\.npy: samples need 2 to 4 dimensions" &&
    ok "conv net: predict on a (N, 1, 1, 28, 28) .npy refused with one line (exit 2, no output file)"
else
  skipped "conv net: .npy image shapes" "no numpy"
fi

echo "trainer: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
