#!/bin/sh
# ramcheck.sh ELF HEADER SYMBOL:MACRO... — the RAM of a tests/mcu image against the generated
# header: each named static object (params, work, ...) must be exactly as large as the header's
# macro for it (NAME_WORK_BYTES, NAME_PARAMS_BYTES, ...; a macro the header does not have is
# reported, not checked), and .data + .bss must be the sum of every object placed there plus
# alignment padding only. Prints one line; exit 1 on a mismatch.
set -eu
elf=$1 header=$2
shift 2
nm=arm-none-eabi-nm
size=arm-none-eabi-size

# .data and .bss from the section table (the stack is its own NOLOAD section)
data=$($size -A "$elf" | awk '$1 == ".data" { print $2 }')
bss=$($size -A "$elf" | awk '$1 == ".bss" { print $2 }')
data=${data:-0} bss=${bss:-0}
# every object in RAM: nm -S lists "addr size type name"; RAM starts at 0x20000000 (sizes are
# hex; the arithmetic is the shell's, as awks differ on hex strings)
count=0 sum=0
for hex in $($nm -S "$elf" | awk '$1 ~ /^2/ && NF == 4 && $3 ~ /^[bBdD]$/ { print $2 }'); do
  count=$((count + 1)) sum=$((sum + 0x$hex))
done

fail=0
report=""
for pair in "$@"; do
  sym=${pair%%:*} macro=${pair#*:}
  got=$($nm -S "$elf" | awk -v s="$sym" '$4 == s { print $2; exit }')
  [ -n "$got" ] && got=$((0x$got))
  want=$(awk -v m="$macro" '$1 == "#define" && $2 == m { print $3; exit }' "$header")
  if [ -z "$got" ]; then
    echo "ramcheck: $elf has no object '$sym'"
    exit 1
  elif [ -z "$want" ]; then
    report="$report $sym $got (no $macro),"
  elif [ "$got" -ne "$want" ]; then
    echo "ramcheck: $elf: $sym is $got bytes, $macro says $want"
    fail=1
  else
    report="$report $sym $got = $macro,"
  fi
done
pad=$((data + bss - sum))
if [ "$pad" -lt 0 ] || [ "$pad" -ge $((count * 64)) ]; then
  echo "ramcheck: $elf: .data + .bss = $((data + bss)) bytes, but its $count objects sum to $sum"
  fail=1
fi
echo "ram $(basename "$elf"):$report .data $data + .bss $bss = $((data + bss)) bytes = $count objects ($sum) + $pad alignment"
exit $fail
