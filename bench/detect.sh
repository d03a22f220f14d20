#!/usr/bin/env bash
# Whole-process timing: `upshift detect --json` vs `docker compose ps` on the
# same running demo stack, median of N runs each. Target ratio <= 1.5.
# Usage: bench/detect.sh [N]   (needs scripts/test-env.sh to have run)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-15}"
bin=$(mktemp -d)/upshift
CGO_ENABLED=0 go build -o "$bin" .
dir=$(mktemp -d)
trap '"$bin" demo down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$bin" demo up --dir "$dir" --project "bench-detect-$$" --port 0 \
  --postgres-image "${UPSHIFT_TEST_PG_IMAGE:-upshift-test/postgres:15}" >/dev/null 2>&1

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() { # prints milliseconds of one run of "$@"
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
cd "$dir"
"$bin" detect --json >/dev/null          # warm-up (page cache)
docker compose ps >/dev/null
u=$(for _ in $(seq "$N"); do timeit "$bin" detect --json; done | median)
c=$(for _ in $(seq "$N"); do timeit docker compose ps; done | median)
ratio=$(awk -v u="$u" -v c="$c" 'BEGIN {printf "%.2f", u / c}')
echo "upshift detect --json: median ${u} ms over $N runs"
echo "docker compose ps:     median ${c} ms over $N runs"
echo "ratio (detect / compose ps): ${ratio}  (target <= 1.5)"
