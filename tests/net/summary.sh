#!/bin/sh
# summary.sh TITLE LOG... — the largest error of each kind over all net_test logs, from
# their "largest |generated - X| (and / max|X| of that tensor): kind abs (rel), ..." lines,
# and how many runs met a kink (net_test.c's ref_backward_kinks), what that eased and how many
# draws ran the flips (kink_slack).
title=$1
shift
cat "$@" | awk -v title="$title" '
  /: largest \|/ {
    against = ($0 ~ /\|generated - reference\|/) ? "reference" : ($0 ~ /\|generated - PyTorch\|/) ? "PyTorch" \
            : ($0 ~ /\|reference - PyTorch\|/) ? "reference vs PyTorch" : ""
    if (against == "") next
    body = $0; sub(/^[^:]*: largest [^:]*: /, "", body)
    n = split(body, items, ", ")
    for (i = 1; i <= n; i++) {
      m = split(items[i], w, " ")
      if (m < 2) continue
      kind = w[1]; for (j = 2; j < m - 1; j++) kind = kind " " w[j]
      abs = w[m - 1] + 0; rel = w[m]; gsub(/[()]/, "", rel); rel += 0
      key = against ": " kind
      if (!(key in A)) order[++k] = key
      if (abs > A[key]) A[key] = abs
      if (rel > R[key]) R[key] = rel
    }
  }
  / relu inputs or pooling maxima within / {
    kruns++
    s = $0; sub(/ gradient or dx values needed.*/, "", s); n = split(s, w, " "); keased += w[n]
    s = $0; if (sub(/.*flips run for /, "", s)) kflips += s + 0
  }
  END {
    if (kruns) printf "%s: %d runs met relu or pooling kinks; %d gradient or dx values needed their slack; flips run for %d draws\n", title, kruns, keased, kflips
    for (i = 1; i <= k; i++)
      printf "%s: largest |error| %-44s %.2e  (/ max|ref| %.2e)\n", title, order[i], A[order[i]], R[order[i]]
  }'
