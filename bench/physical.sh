#!/usr/bin/env bash
# Benchmark of physical restore points (issue #15), one run, ratios printed:
#   backup    backupbench physical (pg_basebackup through a slot, streamed,
#             zstd on the host, unpacked next to the data directory, then
#             sealed)  vs  docker exec pg_dump -Fc > file
#   rollback  backupbench restore-physical (stop, swap in the base backup
#             unpacked before the stop, replay the WAL, promote, compare)  vs
#             pg_restore --clean --create of the pg_dump -Fc of the same
#             database; then again without the staged copy (it was consumed):
#             the base backup copied into the emptied data directory
#   RSS       peak RSS of backupbench physical (GNU time)
# Data: SIZE MiB (default 1024) of md5 text (compresses about 2:1, not 50:1).
# Targets: rollback <= 0.3x pg_restore, backup <= 1.0x pg_dump -Fc, RSS <= 64 MiB.
set -euo pipefail
SIZE=${SIZE:-1024}
PGIMAGE=${PGIMAGE:-${UPSHIFT_TEST_PG_IMAGE:-upshift-test/postgres:15}}
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/upshift-physbench-XXXXXX")
STACK=$WORK/stack
PROJECT=upphysbench-$$
BIN=$WORK/backupbench
UPSHIFT=$WORK/upshift
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs GNU time at $TIME" >&2; exit 1; }
cleanup() { "$UPSHIFT" demo down --dir "$STACK" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BIN" ./bench/backupbench && CGO_ENABLED=0 go build -o "$UPSHIFT" .)
# The demo images are built by upshift itself (they hold its binary).
"$UPSHIFT" demo up --dir "$STACK" --project "$PROJECT" --postgres-image "$PGIMAGE" >/dev/null 2>&1
env_value() { sed -n "s/^$1=//p" "$STACK/.env" | tail -n1; }
U=$(env_value DB_USER); D=$(env_value DB_NAME); DB=$PROJECT-db-1
docker compose --project-directory "$STACK" -f "$STACK/compose.yaml" stop api worker scheduler >/dev/null 2>&1 || true
ROWS=$(( SIZE * 1024 * 1024 / 700 ))
echo "== generating ~${SIZE} MiB ($ROWS rows of md5 text)"
docker exec "$DB" psql -qX -U "$U" -d "$D" -c "CREATE TABLE filler (id bigint, t text); INSERT INTO filler SELECT g, (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 18) i) FROM generate_series(1, $ROWS) g; CHECKPOINT" >/dev/null
DBSIZE=$(docker exec "$DB" psql -qtAX -U "$U" -d "$D" -c "SELECT pg_database_size(current_database())")
echo "   database $(( DBSIZE / 1048576 )) MiB"
m() { local n=$1; shift; sync; "$TIME" -f '%e %M' -o "$WORK/$n.t" "$@" >"$WORK/$n.out"; printf '   %-16s %7.2fs rss %7d KiB\n' "$n" $(cat "$WORK/$n.t"); }
m pgdump sh -c "docker exec $DB pg_dump -U $U -Fc $D > $WORK/fc.dump"
m physical "$BIN" physical "$STACK" "$WORK/sets"
ID=$(cat "$WORK/physical.out")
m pgrestore sh -c "docker exec -i $DB pg_restore -U $U --clean --create --exit-on-error -d postgres < $WORK/fc.dump"
m restore-phys "$BIN" restore-physical "$STACK" "$WORK/sets" "$ID"
# Again: the staged copy was consumed, so this one copies the base backup in.
m restore-copy "$BIN" restore-physical "$STACK" "$WORK/sets" "$ID"
echo "   set $(( $(du -sb "$WORK/sets" | cut -f1) / 1048576 )) MiB, pg_dump -Fc $(( $(stat -c %s "$WORK/fc.dump") / 1048576 )) MiB"
read -r TB RSS <"$WORK/physical.t"; read -r TD _ <"$WORK/pgdump.t"
read -r TR _ <"$WORK/restore-phys.t"; read -r TP _ <"$WORK/pgrestore.t"; read -r TC _ <"$WORK/restore-copy.t"
awk -v tb="$TB" -v td="$TD" -v tr="$TR" -v tp="$TP" -v tc="$TC" -v rss="$RSS" 'BEGIN {
	printf "rollback (physical, staged copy swapped in) / pg_restore = %.2fx (target <= 0.30x) %s\n", tr/tp, (tr/tp <= 0.3 ? "OK" : "MISSED")
	printf "rollback (physical, base backup copied in)  / pg_restore = %.2fx\n", tc/tp
	printf "backup (physical) / pg_dump -Fc  = %.2fx (target <= 1.00x) %s\n", tb/td, (tb/td <= 1.0 ? "OK" : "MISSED")
	printf "peak RSS during the backup       = %.1f MiB (target <= 64 MiB) %s\n", rss/1024, (rss/1024 <= 64 ? "OK" : "MISSED")
}'
