#!/bin/sh
# Cold start of sfx three ways — the single executable, Node running the
# TypeScript directly, and Deno — timed with hyperfine (`apt-get install
# hyperfine`), plus the executable's size. Builds build/sfx when missing.
#
# Usage: bench/startup.sh [runs]     (default 30 runs each, after 3 warm-ups)
set -eu
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
runs="${1:-30}"
command -v hyperfine >/dev/null || { echo "bench/startup.sh: hyperfine is not installed (apt-get install hyperfine)" >&2; exit 1; }
[ -x build/sfx ] || node build/build.ts
mkdir -p .bench-out
size=$(stat -c %s build/sfx)
echo "build/sfx: $size bytes ($(awk "BEGIN { printf \"%.1f\", $size / 1048576 }") MiB)"
hyperfine --shell=none --warmup 3 --runs "$runs" --export-markdown .bench-out/startup.md \
  -n "build/sfx --version (single executable, no node on PATH)" "env -i PATH=/nonexistent build/sfx --version" \
  -n "node cli.ts --version" "node cli.ts --version" \
  -n "deno run -A cli.ts --version" "deno run -A cli.ts --version"
echo "(markdown table: .bench-out/startup.md)"
