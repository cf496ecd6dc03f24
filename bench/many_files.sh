#!/usr/bin/env bash
# Many small files through a local server: 10,000 files of a few bytes, one
# `sfx send` of their directory to `sfx receive --once`, wall time of the send
# and the CPU (user + system seconds) of the sender and the receiver.
# Compares binaries built from two commits, alternating, in the same minute:
#
#   bench/many_files.sh build/sfx /tmp/old/build/sfx    # [more binaries…]
#
# Each binary runs its own server on 127.0.0.1 (ports from $PORT, default 17070).
# FILES sets how many files (default 10000); WORKDIR where they are made and
# received (default /tmp: pass a tmpfs, or a file system of the kind to judge;
# this VM's root, an ext4, is slow to create files right after others were
# deleted, whatever writes them: the kernel's recently_deleted() in a profile).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 SFX_BINARY [SFX_BINARY…]" >&2; exit 2; }
PORT=${PORT:-17070}
ROUNDS=${ROUNDS:-3}
FILES=${FILES:-10000}
WORK=$(mktemp -d "${WORKDIR:-/tmp}/sfx-many-files.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src/d"
for i in $(seq 1 "$FILES"); do echo "file $i" > "$WORK/src/d/f$i.txt"; done

run() { # binary port
  local bin=$1 port=$2 w="$WORK/run-$2"
  rm -rf "$w"; mkdir -p "$w/in"
  "$bin" serve --host 127.0.0.1 --port "$port" --storage "$w/store" --log-dir "$w" --quiet >"$w/serve.out" 2>&1 &
  local sp=$!
  for _ in $(seq 1 100); do
    set +e; "$bin" share ls AAAA-AAAA-AAAA-AAAA-AAAA --server "127.0.0.1:$port" >/dev/null 2>&1; local rc=$?; set -e
    [ $rc = 9 ] && break; sleep 0.1
  done
  /usr/bin/time -f "%U %S" -o "$w/recv.cpu" "$bin" receive --server "127.0.0.1:$port" --dir "$w/in" --yes --once --json >"$w/recv.json" 2>"$w/recv.err" &
  local rp=$! id=""
  for _ in $(seq 1 200); do
    id=$(grep -o '"id":"[0-9]*"' "$w/recv.json" | head -1 | grep -o '[0-9]\+' || true)
    [ -n "$id" ] && break; sleep 0.05
  done
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$w/send.cpu" "$bin" send --to "$id" --server "127.0.0.1:$port" "$WORK/src/d" >"$w/send.out" 2>&1
  t1=$(date +%s.%N)
  wait $rp
  kill $sp; wait $sp 2>/dev/null || true
  local cpu='{ printf "%.2f", $1 + $2 }'
  printf '%-40s %6.2f s  (%s files received; CPU: sender %s s, receiver %s s)\n' "$bin" "$(echo "$t1 - $t0" | bc)" \
    "$(ls "$w/in/d" | wc -l)" "$(awk "$cpu" "$w/send.cpu")" "$(awk "$cpu" "$w/recv.cpu")"
  rm -rf "$w"
}

for r in $(seq 1 "$ROUNDS"); do
  n=0
  for bin in "$@"; do run "$bin" $((PORT + n)); n=$((n + 1)); done
done
