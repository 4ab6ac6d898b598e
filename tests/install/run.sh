#!/usr/bin/env bash
# make test-install: install chainrule into a temporary prefix (the generator linked with Lua
# statically) and build two consumer projects from the installed tree only: a plain Makefile
# + pkg-config (tests/install/make/) and CMake's find_package + chainrule_generate
# (tests/install/cmake/, with the Makefile and the Ninja generators). Each generates xor.h/.c
# from the installed examples/xor.lua, builds tests/install/app.c, trains and checks the loss
# falls; the CMake project builds it a second time on gen --dispatch x86 (chainrule_generate's
# DISPATCH: four variants, each compiled with its ISA's flags), infer_app.c on an inference
# build dispatched the same way, and xor.lua's trainer program (CLI DISPATCH x86, crtrain). Then a second build must be a no-op (the build tool says so and
# no file of the project changes), touching the spec must regenerate and rebuild, and the build
# after that must be a no-op again.
#
#   tests/install/run.sh BUILD VERSION
set -eu
build=$1 version=$2
# the consumers' builds are their own, not part of the make that runs this
unset MAKEFLAGS MFLAGS MAKELEVEL
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/chainrule-test-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
prefix=$tmp/prefix

scripts/install.sh install "" "$prefix" "$build" "$version" "$build/lua-static/chainrule"
if ldd "$prefix/bin/chainrule" | grep -q liblua; then fail "the installed generator needs liblua: $(ldd "$prefix/bin/chainrule" | grep liblua)"; fi
echo "test-install: $prefix/bin/chainrule has no Lua library dependency ($(ldd "$prefix/bin/chainrule" | awk '/=>/ {print $1}' | tr '\n' ' '))"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig

# Files of the project modified after $1 (a marker file), other than the build tools' own
# bookkeeping (CMake's and ninja's logs and dependency databases).
changed_since() {
  find "$2" -type f -newer "$1" ! -name '.ninja_*' ! -path '*/CMakeFiles/*' ! -name 'CMakeCache.txt' | sort
}

# $1 project dir, $2 build command, $3 how the tool says "nothing to do" (grep -E pattern),
# $4 what a regeneration prints, $5 the app
noop_check() {
  local dir=$1 cmd=$2 quiet=$3 gen=$4 app=$5 out
  touch "$tmp/marker"; sleep 0.05
  out=$(cd "$dir" && eval "$cmd" 2>&1) || fail "$dir: second build failed: $out"
  if echo "$out" | grep -qE "$gen|Building|Linking|cc "; then fail "$dir: the second build did work: $out"; fi
  echo "$out" | grep -qE "$quiet" || fail "$dir: the second build did not say '$quiet': $out"
  [ -z "$(changed_since "$tmp/marker" "$dir")" ] || fail "$dir: the second build changed $(changed_since "$tmp/marker" "$dir")"
  echo "  no-op: $(echo "$out" | grep -E "$quiet" | head -n 1 | sed 's/^ *//'); no file changed"
  touch "$dir/xor.lua"
  out=$(cd "$dir" && eval "$cmd" 2>&1) || fail "$dir: build after touching xor.lua failed: $out"
  echo "$out" | grep -qE "$gen" || fail "$dir: touching xor.lua did not regenerate: $out"
  echo "  touched xor.lua: $(echo "$out" | grep -E 'chainrule: .*xor.c' | sed 's/^ *//')"
  touch "$tmp/marker"; sleep 0.05
  out=$(cd "$dir" && eval "$cmd" 2>&1) || fail "$dir: third build failed: $out"
  if echo "$out" | grep -qE "$gen|Building|Linking|cc "; then fail "$dir: the build after the regeneration is not a no-op: $out"; fi
  [ -z "$(changed_since "$tmp/marker" "$dir")" ] || fail "$dir: the third build changed $(changed_since "$tmp/marker" "$dir")"
  echo "  and the next build is a no-op again"
  "$app" | sed 's/^/  /'
  "$app" >/dev/null || fail "$app: the loss did not fall"
}

# --- a plain Makefile + pkg-config
m=$tmp/make
mkdir -p "$m"
cp "$here/app.c" "$here/make/Makefile" "$prefix/share/chainrule/examples/xor.lua" "$m/"
echo "== Makefile + pkg-config consumer ($m)"
out=$(make -C "$m" --no-print-directory 2>&1) || fail "make consumer: build failed: $out"
echo "$out" | sed 's/^/  /'
"$m/app" | sed 's/^/  /'
"$m/app" >/dev/null || fail "make consumer: the loss did not fall"
make -q --no-print-directory -C "$m" app || fail "make consumer: make -q says the second build has work to do"
echo "  make -q: up to date"
noop_check "$m" "make --no-print-directory" "is up to date" "chainrule gen" "$m/app"
# a new generator binary regenerates too (gen/xor.d names it)
touch "$prefix/bin/chainrule"
make -q --no-print-directory -C "$m" app && fail "make consumer: a newer generator binary does not regenerate"
out=$(make -C "$m" --no-print-directory 2>&1) || fail "make consumer: build after touching the generator: $out"
echo "$out" | grep -q "chainrule gen" || fail "make consumer: touching the generator did not regenerate: $out"
make -q --no-print-directory -C "$m" app || fail "make consumer: not up to date after regenerating for a new generator"
echo "  touched bin/chainrule: regenerated, then up to date"

# --- CMake, with each generator this machine has
for g in "Unix Makefiles" Ninja; do
  if [ "$g" = Ninja ] && ! command -v ninja >/dev/null; then echo "== CMake consumer (Ninja): SKIP, ninja is not installed"; continue; fi
  c=$tmp/cmake-${g%% *}
  mkdir -p "$c"
  cp "$here/app.c" "$here/infer_app.c" "$here/cmake/CMakeLists.txt" "$here/cmake/xor.avx2.tune" \
    "$prefix/share/chainrule/examples/xor.lua" "$c/"
  echo "== CMake consumer, $g ($c)"
  out=$(cmake -S "$c" -B "$c/build" -G "$g" -DCMAKE_PREFIX_PATH="$prefix" 2>&1) || fail "cmake configure ($g): $out"
  out=$(cmake --build "$c/build" 2>&1) || fail "cmake build ($g): $out"
  echo "$out" | grep -E "chainrule|Building|Linking" | sed 's/^/  /'
  "$c/build/app" | sed 's/^/  /'
  "$c/build/app_dispatch" | sed 's/^/  (dispatch) /'
  "$c/build/app_dispatch" >/dev/null || fail "cmake consumer ($g): app_dispatch: the loss did not fall"
  grep -q "/xor.avx2.tune" "$c/build/chainrule/xor_dispatch/xor.d" || fail "cmake consumer ($g): TUNE xor.avx2.tune is not among gen's inputs"
  "$c/build/xor_trainer" --help | head -n 1 | grep -q "'xor_t' (2 -> 2, cross-entropy, dispatch)" ||
    fail "cmake consumer ($g): xor_trainer --help: $("$c/build/xor_trainer" --help | head -n 1)"
  echo "  xor_trainer: $("$c/build/xor_trainer" --help | head -n 1)"
  "$c/build/app_infer" | sed 's/^/  /'
  "$c/build/app_infer" >/dev/null || fail "cmake consumer ($g): app_infer: points in the wrong class"
  if [ "$g" = Ninja ]; then quiet="ninja: no work to do"; else quiet="Built target app"; fi
  noop_check "$c" "cmake --build build" "$quiet" "chainrule: generating|Generating" "$c/build/app"
done

# chainrule_generate's refusals at configure time, one line naming the cure: a C++-only project
# (CMake would leave NAME.c out and the link fail), and the same NAME.h/.c for two targets
bad_cmake() {   # NAME EXPECTED-TEXT CMAKELISTS-BODY
  local d=$tmp/bad-$1
  mkdir -p "$d"
  cp "$prefix/share/chainrule/examples/xor.lua" "$d/"
  echo 'int main(void) { return 0; }' >"$d/app.c"
  cp "$d/app.c" "$d/app.cpp"
  printf 'cmake_minimum_required(VERSION 3.20)\n%s\n' "$3" >"$d/CMakeLists.txt"
  if out=$(cmake -S "$d" -B "$d/build" -DCMAKE_PREFIX_PATH="$prefix" 2>&1); then fail "cmake ($1): configured"; fi
  echo "$out" | tr '\n' ' ' | tr -s ' ' | grep -q "$2" || fail "cmake ($1): no '$2' in: $out"
  # (a configure error leaves no build system: nothing could run the generator)
  [ ! -e "$d/build/Makefile" ] && [ ! -e "$d/build/build.ninja" ] || fail "cmake ($1): a build system was generated"
  echo "  refused at configure ($1): ...$2..."
}
echo "== CMake refusals"
bad_cmake cxx-only "the generated code is C, and this project has not enabled C" \
  "project(cxxonly CXX)
find_package(chainrule REQUIRED)
add_executable(app app.cpp)
chainrule_generate(TARGET app SPEC xor.lua)"
bad_cmake twice "are already generated for target 'a': give this call another NAME or OUT_DIR" \
  "project(twice C)
find_package(chainrule REQUIRED)
add_executable(a app.c)
add_executable(b app.c)
chainrule_generate(TARGET a SPEC xor.lua ISA avx2)
chainrule_generate(TARGET b SPEC xor.lua ISA sse2)"

scripts/install.sh uninstall "" "$prefix" "$build" "$version" >/dev/null
left=$(find "$prefix" -type f -o -type l -o -type d -path "$prefix/*chainrule*")
[ -z "$left" ] || fail "uninstall left: $left"
echo "test-install: passed (install, Makefile + pkg-config, CMake; no-op rebuilds; uninstall removed every file and our directories)"
