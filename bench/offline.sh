#!/usr/bin/env bash
# Benchmark of planning from the files alone (issue 20): wall time of
# `detect --offline --json` and `plan --offline --json` on the demo layout,
# with no Docker engine reachable (DOCKER_HOST=unix:///nonexistent) and no
# route to GitHub. Median of RUNS (default 21). Target: <= 150 ms each.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-21}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/upshift" .
dir="$work/demo"
mkdir -p "$dir"
cp demo/releases/compose.yaml "$dir/compose.yaml"
cat > "$dir/.env" <<ENV
APP_VERSION=1.0.0
POSTGRES_IMAGE=upshift-test/postgres:15
DB_USER=notes
DB_PASSWORD=notes-secret
DB_NAME=notes
NOTES_SECRET=bench
API_PORT=18080
ENV
export DOCKER_HOST=unix:///nonexistent UPSHIFT_GITHUB_API=http://127.0.0.1:1
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
for name in detect plan; do
  case $name in
    detect) args=(detect --offline --json --dir "$dir") ;;
    plan) args=(plan --offline --json --dir "$dir" --to 2.0.0) ;;
  esac
  "$work/upshift" "${args[@]}" >/dev/null # warm the page cache
  m=$(for _ in $(seq "$RUNS"); do time_ms "$work/upshift" "${args[@]}"; done | median)
  echo "$name --offline --json: median ${m} ms over $RUNS runs (target <= 150 ms)"
done
