#!/bin/sh
# timed.sh FILE COMMAND [ARGS...]: run COMMAND, then write its wall time in milliseconds to
# FILE (make bench's code-generation rows: the generator's and the compiler's time).
# Exits with COMMAND's status; FILE is written only when it succeeded.
out=$1
shift
t0=$(date +%s%N)
"$@" || exit $?
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000000 )) > "$out"
