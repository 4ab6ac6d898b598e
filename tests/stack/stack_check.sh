#!/bin/sh
# Worst-case stack of a generated file's entry points, measured, against the bounds its
# banner states ("stack of NAME_*, at most: forward N, backward N, ... bytes").
#   tests/stack/stack_check.sh DIR NAME [gcc flags...]
# Compiles DIR/NAME.c with gcc -O2 -fstack-usage -fcallgraph-info=su (and the flags), reads
# each function's frame and the call graph from the .ci file, and takes the deepest chain of
# frames from each entry point (calls to functions outside the file, libm/libc, count 0).
#   tests/stack/stack_check.sh --ci FILE.ci DIR NAME
# reads instead the call graph an earlier compile of DIR/NAME.c wrote with those gcc flags
# (test-isa's, mk/stack.mk).
# Prints one line per entry point; exit 1 if a measured figure exceeds its bound.
set -eu
ci=
if [ "$1" = --ci ]; then ci=$2; shift 2; fi
dir=$1; name=$2; shift 2
if [ -z "$ci" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp "$dir/$name.c" "$dir/$name.h" "$tmp/"
  (cd "$tmp" && gcc -std=c11 -O2 "$@" -fstack-usage -fcallgraph-info=su -c "$name.c" -o "$name.o")
  ci=$tmp/$name.ci
fi
bounds=$(sed -n 's/^ \* stack of [A-Za-z0-9_]*_\*, at most: \(.*\) bytes$/\1/p' "$dir/$name.h" | tr -d ',' | sed 's/ \([a-z_]*\) / \1=/g; s/^\([a-z_]*\) /\1=/')
[ -n "$bounds" ] || { echo "stack_check: no stack line in $dir/$name.h" >&2; exit 1; }
awk -v name="$name" -v bounds="$bounds" '
  /^node:/ {
    t = $0; sub(/.*title: "/, "", t); sub(/".*/, "", t)
    b = 0
    if (match($0, /[0-9]+ bytes/)) b = substr($0, RSTART, RLENGTH) + 0
    bytes[t] = b
  }
  /^edge:/ {
    s = $0; sub(/.*sourcename: "/, "", s); sub(/".*/, "", s)
    d = $0; sub(/.*targetname: "/, "", d); sub(/".*/, "", d)
    n[s]++; to[s, n[s]] = d
  }
  function deep(f,    m, i, x) {
    if (f in memo) return memo[f]
    m = 0
    for (i = 1; i <= n[f]; i++) { x = deep(to[f, i]); if (x > m) m = x }
    memo[f] = bytes[f] + m
    return memo[f]
  }
  END {
    k = split(bounds, pairs, " "); bad = 0
    for (i = 1; i <= k; i++) {
      split(pairs[i], kv, "=")
      f = name "_" kv[1]
      if (!(f in bytes)) { printf "stack_check: %s not in the call graph\n", f; bad = 1; continue }
      m = deep(f)
      printf "  %-28s measured %7d  bound %7d%s\n", f, m, kv[2], m <= kv[2] ? "" : "  EXCEEDS THE BOUND"
      if (m > kv[2]) bad = 1
    }
    exit bad
  }' "$ci"
