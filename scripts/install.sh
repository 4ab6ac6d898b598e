#!/usr/bin/env bash
# make install / make uninstall (mk/install.mk runs this with the built files in place).
#
#   scripts/install.sh install   DESTDIR PREFIX BUILD VERSION [GENERATOR]
#   scripts/install.sh uninstall DESTDIR PREFIX BUILD VERSION
#
# GENERATOR: the binary to install as bin/chainrule (default BUILD/chainrule).
# Installs under DESTDIR/PREFIX: bin/chainrule, lib/libcr.a and lib/libcrtrain.a,
# include/chainrule/{cr.h,cr_train.h}, lib/pkgconfig/{chainrule,chainrule-train}.pc,
# lib/cmake/chainrule/ (find_package(chainrule)), share/man/man1/chainrule.1 and
# share/chainrule/ (example specs, docs). The .pc files name PREFIX
# (DESTDIR is only the staging root). Before anything is copied, every destination
# directory's first existing ancestor must take a new directory: otherwise one line and exit 1,
# nothing written. uninstall removes exactly these files and the directories of ours that
# are left empty.
set -eu
[ $# -eq 5 ] || [ $# -eq 6 ] || { echo "usage: scripts/install.sh install|uninstall DESTDIR PREFIX BUILD VERSION [GENERATOR]" >&2; exit 2; }
mode=$1 destdir=$2 prefix=$3 build=$4 version=$5 generator=${6:-$4/chainrule}
case "$prefix" in /*) ;; *) echo "make $mode: PREFIX must be an absolute path, got '$prefix'" >&2; exit 2 ;; esac
root="$destdir$prefix"
cd "$(dirname "$0")/.."

# destination (relative to root) <- source; "@gen NAME" are written from pkg/ templates below
manifest() {
  echo "bin/chainrule $generator 755"
  echo "lib/libcr.a $build/libcr.a 644"
  echo "lib/libcrtrain.a $build/libcrtrain.a 644"
  echo "include/chainrule/cr.h runtime/cr.h 644"
  echo "include/chainrule/cr_train.h trainer/cr_train.h 644"
  echo "lib/pkgconfig/chainrule.pc @gen 644"
  echo "lib/pkgconfig/chainrule-train.pc @gen 644"
  echo "lib/cmake/chainrule/chainruleConfig.cmake pkg/chainruleConfig.cmake 644"
  echo "lib/cmake/chainrule/chainruleConfigVersion.cmake @gen 644"
  echo "share/man/man1/chainrule.1 @gen 644"
  for f in specs/*.lua examples/xor.lua examples/embed.c; do echo "share/chainrule/$f $f 644"; done
  for f in README.md docs/*.md docs/design/*.md; do echo "share/chainrule/doc/${f#docs/} $f 644"; done
}

# The man page: --help's text under NAME/SYNOPSIS headings, verbatim (no-fill).
man_page() {
  echo ".TH CHAINRULE 1 \"\" \"chainrule $version\" \"User Commands\""
  echo ".SH NAME"
  echo "chainrule \\- generate size-specialised SIMD C for a neural network from a Lua spec"
  echo ".SH DESCRIPTION"
  echo ".nf"
  "$generator" --help | sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
  echo ".fi"
  echo ".SH FILES"
  echo "$prefix/share/chainrule/ example specs and docs."
}

generate() {   # destination -> stdout
  local minor major
  major=${version%%.*}; minor=${version#*.}; minor=${minor%%.*}
  case "$1" in
    lib/pkgconfig/chainrule.pc) sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" pkg/chainrule.pc.in ;;
    lib/pkgconfig/chainrule-train.pc) sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|g" pkg/chainrule-train.pc.in ;;
    lib/cmake/chainrule/chainruleConfigVersion.cmake)
      sed -e "s|@VERSION@|$version|" -e "s|@VERSION_MAJOR@|$major|" -e "s|@VERSION_MINOR@|$minor|" \
        pkg/chainruleConfigVersion.cmake.in ;;
    share/man/man1/chainrule.1) man_page ;;
  esac
}

# The first existing directory on the way up from $1.
existing_ancestor() {
  local d=$1
  while [ ! -e "$d" ]; do d=$(dirname "$d"); done
  echo "$d"
}

if [ "$mode" = install ]; then
  checked=" "
  while read -r dst src perm; do
    dir=$(dirname "$root/$dst")
    case "$checked" in *" $dir "*) continue ;; esac
    checked="$checked$dir "
    a=$(existing_ancestor "$dir")
    # a probe directory, removed at once: -w alone says yes to root on a read-only file system
    if [ ! -d "$a" ] || ! probe=$(mktemp -d "$a/.chainrule-install.XXXXXX" 2>/dev/null) || ! rmdir "$probe"; then
      echo "make install: cannot install into '$root': '$a' is not a writable directory (choose PREFIX=... or DESTDIR=..., or run as its owner)" >&2
      exit 1
    fi
    [ "$src" = @gen ] || [ -f "$src" ] || { echo "make install: '$src' is missing (build it first)" >&2; exit 1; }
  done < <(manifest)
  n=0
  while read -r dst src perm; do
    mkdir -p "$(dirname "$root/$dst")"
    if [ "$src" = @gen ]; then
      tmp=$(mktemp "$root/$dst.XXXXXX")
      generate "$dst" > "$tmp"
      chmod "$perm" "$tmp"
      mv -f "$tmp" "$root/$dst"
    else
      install -m "$perm" "$src" "$root/$dst"
    fi
    n=$((n + 1))
  done < <(manifest)
  echo "make install: $n files under $root"
else
  n=0
  while read -r dst src perm; do
    if [ -e "$root/$dst" ] || [ -L "$root/$dst" ]; then rm -f "$root/$dst"; n=$((n + 1)); fi
  done < <(manifest)
  # our directories (a path part named chainrule and below it) left empty, deepest first:
  # every one the manifest's files sit in, so a new subdirectory of the docs is not forgotten
  manifest | while read -r dst _ _; do
    d=$(dirname "$dst")
    while [ "$d" != . ]; do
      case /$d/ in */chainrule/*) echo "$d" ;; esac
      d=$(dirname "$d")
    done
  done | sort -ru | while read -r d; do
    [ -d "$root/$d" ] && rmdir "$root/$d" 2>/dev/null || true
  done
  echo "make uninstall: removed $n files under $root"
fi
