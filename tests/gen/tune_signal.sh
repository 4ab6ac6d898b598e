#!/usr/bin/env bash
# make test-gen: chainrule tune stopped by Ctrl-C (SIGINT to its whole process group) while it
# compiles and while it times: its temporary directory is gone, nothing is written, and it
# exits by the signal or with one line saying so (status 2).
#
#   tests/gen/tune_signal.sh CHAINRULE
set -u
set -m   # each background job its own process group, SIGINT not ignored: as a terminal's job
cr=${1:?usage: tune_signal.sh CHAINRULE}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cr-tune-signal.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test-gen: tune_signal: FAIL: $*"; exit 1; }
for phase in "compiling with" "tune: timing"; do
  d=$tmp/${phase%% *}
  mkdir -p "$d/tmp"
  TMPDIR=$d/tmp "$cr" tune specs/seed_mse.lua --budget 30 --out "$d/x.tune" >"$d/log" 2>&1 &
  pid=$!
  for _ in $(seq 1200); do grep -qs "$phase" "$d/log" && break; sleep 0.05; done
  grep -q "$phase" "$d/log" || fail "no '$phase' in: $(cat "$d/log")"
  sleep 0.3
  kill -INT -"$pid"
  wait "$pid" 2>/dev/null
  rc=$?
  sleep 0.5   # (the shell's trap removes the directory once the timing program has stopped)
  [ -z "$(ls -A "$d/tmp")" ] || fail "Ctrl-C at '$phase': left $(ls -A "$d/tmp")"
  [ ! -e "$d/x.tune" ] || fail "Ctrl-C at '$phase': wrote x.tune"
  case $rc in
    130) ;;
    2) [ "$(tail -n 1 "$d/log")" = "chainrule tune: interrupted by a signal; nothing written" ] ||
         fail "Ctrl-C at '$phase': $(tail -n 1 "$d/log")" ;;
    *) fail "Ctrl-C at '$phase': exit status $rc: $(tail -n 2 "$d/log")" ;;
  esac
done
echo "test-gen: tune stopped by Ctrl-C while compiling and while timing: no temporary directory left, nothing written"
