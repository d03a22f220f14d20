#!/usr/bin/env bash
# Benchmark of the PostgreSQL major hop (issue #14): its downtime against a
# plain pg_dump + pg_restore of the same database into the new major.
#
# Starts a demo stack at 1.0.0 on PostgreSQL 15, grows its database to about
# SIZE MiB of md5 text with a primary key (compresses about 2:1, not 50:1
# like pgbench's filler; the restore rebuilds the index), then
#   baseline  docker exec db pg_dump -Fc -Z1 > file, then the file through
#             docker exec -i pg_restore into an empty, already running
#             PostgreSQL 17 container (its start not counted)
#   hop       upshift upgrade --to 1.1.0 --postgres-image upshift-test/postgres:17
#             with a profile whose min_db rule asks 16 for 1.1.0; its downtime
#             is read from the run's events: the PostgreSQL hop's stop starts
#             it, its start step (the app healthy again) ends it
# and prints both and their ratio. Target: hop downtime <= 1.2x baseline.
#
# Environment: SIZE (MiB, default 1024), PG15/PG17 (images), KEEP=1 keeps
# the stack. Needs scripts/test-env.sh's images and python3.
set -euo pipefail

SIZE=${SIZE:-1024}
PG15=${PG15:-upshift-test/postgres:15}
PG17=${PG17:-upshift-test/postgres:17}
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/upshift-pgbench-XXXXXX")
STACK=$WORK/stack
PROJECT=h14pg-bench-$$
BIN=$WORK/upshift
NEW=h14pg-bench-pg17-$$

cleanup() {
	docker rm -f "$NEW" >/dev/null 2>&1 || true
	if [ "${KEEP:-}" = 1 ]; then
		echo "kept: $WORK (stack $PROJECT; remove with $BIN demo down --dir $STACK)"
		return
	fi
	"$BIN" demo down --dir "$STACK" >/dev/null 2>&1 || true
	# compose down leaves the data volume the compose file no longer uses
	docker volume rm -f "${PROJECT}_db-data" "${PROJECT}_db-data-pg17" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

echo "== building upshift"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BIN" .)
mkdir -p "$STACK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "== demo stack $PROJECT at 1.0.0 on $PG15"
"$BIN" demo up --dir "$STACK" --version 1.0.0 --project "$PROJECT" --postgres-image "$PG15" --port "$PORT" >/dev/null
env_value() { sed -n "s/^$1=//p" "$STACK/.env" | tail -n1; }
DB_USER=$(env_value DB_USER)
DB_NAME=$(env_value DB_NAME)
DB_PASSWORD=$(env_value DB_PASSWORD)
DB=$PROJECT-db-1
ROWS=$(( SIZE * 1024 * 1024 / 700 ))
echo "== growing the database: $ROWS rows of md5 text (about $SIZE MiB)"
docker exec "$DB" psql -qX -U "$DB_USER" -d "$DB_NAME" -c "CREATE TABLE filler (id bigint PRIMARY KEY, t text); INSERT INTO filler SELECT g, (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 18) i) FROM generate_series(1, $ROWS) g; CHECKPOINT" >/dev/null
SIZE_DB=$(docker exec "$DB" psql -qtA -U "$DB_USER" -d "$DB_NAME" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")
echo "   database size $SIZE_DB"

echo "== baseline: pg_dump -Fc into a file, pg_restore into PostgreSQL 17"
docker run -d --name "$NEW" --network none -e POSTGRES_USER="$DB_USER" -e POSTGRES_PASSWORD="$DB_PASSWORD" -e POSTGRES_DB="$DB_NAME" "$PG17" >/dev/null
until docker exec -e PGPASSWORD="$DB_PASSWORD" "$NEW" psql -h 127.0.0.1 -qtA -U "$DB_USER" -d "$DB_NAME" -c 'SELECT 1' >/dev/null 2>&1; do sleep 0.3; done
t0=$(now)
docker exec "$DB" pg_dump -Fc -Z1 -U "$DB_USER" -d "$DB_NAME" >"$WORK/dump"
DUMP=$(since "$t0")
t1=$(now)
docker exec -i "$NEW" pg_restore --exit-on-error -U "$DB_USER" -d "$DB_NAME" --clean --if-exists <"$WORK/dump"
RESTORE=$(since "$t1")
BASE=$(python3 -c "print(f'{$DUMP + $RESTORE:.1f}')")
docker rm -f "$NEW" >/dev/null
echo "   pg_dump ${DUMP}s + pg_restore ${RESTORE}s = ${BASE}s"

echo "== the PostgreSQL hop (upshift upgrade --to 1.1.0 --postgres-image $PG17)"
"$BIN" profile show upshift-demo | sed 's/targets: ">=3.0.0"/targets: ">=1.1.0"/' >"$WORK/profile.yaml"
(cd "$STACK" && "$BIN" upgrade --to 1.1.0 --yes --json --profile "$WORK/profile.yaml" --postgres-image "$PG17" --restore-proof never) >"$WORK/events.jsonl"
python3 - "$WORK/events.jsonl" "$BASE" <<'PY'
import json, sys
from datetime import datetime
t = {}
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event") in ("step_started", "step_finished") and e.get("step", "").startswith("postgresql-"):
        t[(e["step"].split("/", 1)[1], e["event"])] = datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
    if "result" in e and e["result"] != "success":
        sys.exit("upgrade did not succeed: " + line)
def span(a, b):
    return (t[b] - t[a]).total_seconds()
down = span(("stop", "step_started"), ("start", "step_finished"))
for s in ("prepare", "stop", "backup", "copy", "config", "start"):
    if (s, "step_started") not in t:
        continue
    print(f"   {s:7s} {span((s, 'step_started'), (s, 'step_finished')):6.1f}s")
base = float(sys.argv[2])
print(f"   downtime of the PostgreSQL hop {down:.1f}s (stop → app healthy again)")
print(f"== ratio: hop downtime / (pg_dump + pg_restore) = {down / base:.2f}x (target <= 1.2x)")
PY
