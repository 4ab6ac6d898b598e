#!/usr/bin/env bash
# make test-bench: checks what one small `make bench` run wrote (mk/bench.mk runs it: one pass,
# one chainrule ISA, one OpenBLAS core, no tuning, no 784-2048-2048-10). Nothing here judges a
# speed: the run shares the machine with the other suites. It checks that the bench's whole
# path works, from the generated programs to the report, so that a change to any part of it
# (a program's output, raw.csv's header, the report) fails here and not after a 13-minute
# `make bench`:
#   - the report printed its machine lines and the 20 target rows of issue 12, each with a
#     verdict (met, NOT MET, or no data naming why);
#   - bench.csv has the peak and L2-read rows and, for every workload the bench lists, a
#     chainrule row with a positive time, a naive and an OpenBLAS row (but for the BN-CNN,
#     whose baseline is PyTorch's alone), PyTorch rows when torch imports;
#   - bench-codegen.csv has a row for every generated spec with a size and a compile time;
#   - `bench report` on a raw.csv with one stray line: exit 2, one line naming the file and
#     the line, and neither output written.
#
#   tests/bench/check.sh DIR ISA PYTHON    (DIR: BENCH_DIR, holding bench.out, bench.csv,
#                                           bench-codegen.csv, raw.csv, workloads.txt)
set -u
dir=${1:?usage: check.sh DIR ISA PYTHON} isa=${2:?} py=${3:?}
fail() { echo "test-bench: FAIL: $*"; exit 1; }
out=$dir/bench.out csv=$dir/bench.csv cg=$dir/bench-codegen.csv
for f in "$out" "$csv" "$cg" "$dir/raw.csv" "$dir/workloads.txt"; do [ -s "$f" ] || fail "$f is missing or empty"; done

# The report: machine lines, then the targets table with a verdict on every row.
for k in cpu isa l2 openblas; do grep -q "^$k: " "$out" || fail "the report has no '$k:' line"; done
targets=$(awk '/^Targets \(issue 12/ { on = 1; getline; next } on && /^  \(/ { exit } on && NF { print }' "$out")
n=$(printf '%s\n' "$targets" | grep -c .)
# issue 12's 20 targets (bench/bench.c, cmd_report)
[ "$n" = 20 ] || fail "the report's targets table has $n rows (expected issue 12's 20)"
bad=$(printf '%s\n' "$targets" | grep -Ev '  (met|NOT MET|no data: .+)$')
[ -z "$bad" ] || fail "target rows without a verdict: $bad"
# every row left without data must say why (here: the big net was left out)
printf '%s\n' "$targets" | grep 'no data' | grep -qv '784-2048-2048-10' &&
  fail "a target has no data: $(printf '%s\n' "$targets" | grep 'no data' | grep -v 784-2048-2048-10 | head -n 1)"

# bench.csv: the header, peak and L2 rows, then each workload's rows.
[ "$(head -n 1 "$csv")" = "workload,impl,batch,us_per_op,gflops,pct_peak" ] || fail "bench.csv's header: $(head -n 1 "$csv")"
grep -q '^peak_fma,' "$csv" && grep -q '^l2_read,' "$csv" || fail "bench.csv has no peak_fma or l2_read row"
torch=0
"$py" -c 'import torch' 2>/dev/null && torch=1
row() { # workload impl-prefix: a row with a positive time?
  awk -F, -v w="$1" -v p="$2" '$1 == w && index($2, p) == 1 && $4 + 0 > 0 { found = 1 } END { exit !found }' "$csv"
}
nw=0
while read -r w _; do
  nw=$((nw + 1))
  row "$w" "chainrule-$isa" || fail "bench.csv: no chainrule-$isa row for $w"
  case $w in
  bncnn_*) ;; # PyTorch is its only baseline
  *) row "$w" naive || fail "bench.csv: no naive row for $w"
     row "$w" openblas- || fail "bench.csv: no OpenBLAS row for $w" ;;
  esac
  [ $torch = 0 ] || row "$w" pytorch- || fail "bench.csv: no PyTorch row for $w"
done < "$dir/workloads.txt"
[ "$nw" -ge 15 ] || fail "workloads.txt lists $nw workloads (expected at least 15)"

# bench-codegen.csv: every spec generated for the ISA, and the size specs.
[ "$(head -n 1 "$cg")" = "isa,spec,gen_ms,c_bytes,c_lines,compile_ms" ] || fail "bench-codegen.csv's header: $(head -n 1 "$cg")"
for s in bench_mlp bench_mlp1 bench_lenet bench_bncnn size_deep size_wide; do
  awk -F, -v s="$s" '$2 == s && $4 > 1000 && $6 > 0 { found = 1 } END { exit !found }' "$cg" ||
    fail "bench-codegen.csv: no row with a size and a compile time for $s"
done

# The report refuses a raw.csv with a line it does not know, and writes nothing.
bad_raw=$dir/bad-raw.csv
{ head -n 2 "$dir/raw.csv"; echo "isas: a line the bench did not comment"; tail -n +3 "$dir/raw.csv"; } > "$bad_raw"
rm -f "$dir/bad.csv" "$dir/bad-codegen.csv"
msg=$("$dir/bench" report "$bad_raw" "$dir/bad.csv" "$dir/bad-codegen.csv" 2>&1 >/dev/null)
rc=$?
[ $rc = 2 ] || fail "bench report on a stray line: exit $rc (expected 2)"
case $msg in "bench report: $bad_raw:3: "*) ;; *) fail "bench report on a stray line said: $msg" ;; esac
[ ! -e "$dir/bad.csv" ] && [ ! -e "$dir/bad-codegen.csv" ] || fail "bench report wrote its outputs from a bad raw.csv"

echo "test-bench: the whole bench path ran: $n target rows, $nw workloads (chainrule-$isa, naive, OpenBLAS$([ $torch = 1 ] && echo ', PyTorch')), codegen rows; the report refuses a stray line"
