#!/usr/bin/env bash
# Benchmark of upshift's database backup against plain pg_dump (issue #5).
#
# Starts a demo stack, grows its database to about SIZE MiB with pgbench,
# stops the app's writers, then times as whole processes (median of RUNS):
#   upshift  backup.Create via bench/backupbench (pg_dump -Fc -Z1 in the
#            container, streamed + SHA-256 on the host, config, volume, manifest)
#   pg_dump  docker exec db pg_dump -Fc > file
#   gzip     docker exec db pg_dump | gzip > file
# and prints the ratios and upshift's peak RSS.
#
# Targets: upshift <= 1.0x pg_dump -Fc, >= 2x faster than pg_dump | gzip,
# peak RSS <= 64 MiB whatever the size.
#
# Environment: SIZE (MiB, default 1024), RUNS (default 3), COMPARE_ZSTD=1 also
# times the pg_dump -Z0 + host zstd mode (slow on Docker 20.10: the exec
# stream is the bottleneck, see backup.DumpInContainer),
# PGIMAGE (default upshift-test/postgres:15), KEEP=1 keeps the stack and files.
set -euo pipefail

SIZE=${SIZE:-1024}
RUNS=${RUNS:-3}
PGIMAGE=${PGIMAGE:-${UPSHIFT_TEST_PG_IMAGE:-upshift-test/postgres:15}}
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/upshift-bench-XXXXXX")
STACK=$WORK/stack
PROJECT=upbench-$$
BIN=$WORK/backupbench
TIME=/usr/bin/time

[ -x "$TIME" ] || { echo "needs GNU time at $TIME (apt-get install time)" >&2; exit 1; }

cleanup() {
	if [ "${KEEP:-}" = 1 ]; then
		echo "kept: $WORK (stack $PROJECT; remove with $BIN down $STACK)"
		return
	fi
	"$BIN" down "$STACK" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building bench/backupbench"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BIN" ./bench/backupbench)

echo "== starting demo stack $PROJECT"
"$BIN" up "$STACK" "$PROJECT" "$PGIMAGE"
env_value() { sed -n "s/^$1=//p" "$STACK/.env" | tail -n1; }
DB_USER=$(env_value DB_USER)
DB_NAME=$(env_value DB_NAME)
DB=$PROJECT-db-1
docker compose --project-directory "$STACK" -f "$STACK/compose.yaml" stop api worker >/dev/null 2>&1

SCALE=$(( SIZE / 15 ))
[ "$SCALE" -ge 1 ] || SCALE=1
echo "== generating ~${SIZE} MiB (pgbench scale $SCALE, server-side)"
start=$(date +%s)
docker exec "$DB" pgbench -q -i -I dtGvp -s "$SCALE" -U "$DB_USER" "$DB_NAME" >/dev/null 2>&1
DBSIZE=$(docker exec "$DB" psql -qtAX -U "$DB_USER" -d "$DB_NAME" -c "SELECT pg_database_size(current_database())")
echo "   database size $(( DBSIZE / 1048576 )) MiB, generated in $(( $(date +%s) - start ))s"

# measure NAME CMD...: appends "seconds maxrss_kib" to $WORK/NAME.times
measure() {
	local name=$1; shift
	sync
	"$TIME" -f '%e %M' -o "$WORK/$name.last" "$@" >/dev/null
	cat "$WORK/$name.last" >>"$WORK/$name.times"
	printf '   %-8s %6.2fs  rss %6d KiB\n' "$name" $(cat "$WORK/$name.last")
}

for i in $(seq 1 "$RUNS"); do
	echo "== run $i/$RUNS"
	rm -rf "$WORK/sets" "$WORK/fc.dump" "$WORK/plain.sql.gz"
	# Rotate the order so no command always runs first (cold caches).
	for j in 0 1 2; do
		case $(( (i + j) % 3 )) in
		0) measure upshift "$BIN" create "$STACK" "$WORK/sets" ;;
		1) measure pgdumpfc sh -c "docker exec $DB pg_dump -U $DB_USER -Fc $DB_NAME > $WORK/fc.dump" ;;
		2) measure gzip sh -c "docker exec $DB pg_dump -U $DB_USER $DB_NAME | gzip > $WORK/plain.sql.gz" ;;
		esac
	done
	if [ "${COMPARE_ZSTD:-}" = 1 ]; then
		rm -rf "$WORK/sets-zstd"
		measure up-zstd env UPSHIFT_DUMP_MODE=zstd "$BIN" create "$STACK" "$WORK/sets-zstd"
	fi
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
T_UP=$(cut -d' ' -f1 "$WORK/upshift.times" | median)
T_FC=$(cut -d' ' -f1 "$WORK/pgdumpfc.times" | median)
T_GZ=$(cut -d' ' -f1 "$WORK/gzip.times" | median)
RSS=$(cut -d' ' -f2 "$WORK/upshift.times" | sort -n | tail -n1)
SET_SIZE=$(du -sb "$WORK/sets" | cut -f1)
FC_SIZE=$(stat -c %s "$WORK/fc.dump")
GZ_SIZE=$(stat -c %s "$WORK/plain.sql.gz")

echo
echo "== results (median of $RUNS, database $(( DBSIZE / 1048576 )) MiB)"
printf '%-28s %8ss %10s MiB\n' "upshift backup set" "$T_UP" "$(( SET_SIZE / 1048576 ))"
printf '%-28s %8ss %10s MiB\n' "pg_dump -Fc > file" "$T_FC" "$(( FC_SIZE / 1048576 ))"
printf '%-28s %8ss %10s MiB\n' "pg_dump | gzip > file" "$T_GZ" "$(( GZ_SIZE / 1048576 ))"
if [ -s "$WORK/up-zstd.times" ]; then
	printf '%-28s %8ss %10s MiB\n' "upshift, -Z0 + host zstd" "$(cut -d' ' -f1 "$WORK/up-zstd.times" | median)" "$(( $(du -sb "$WORK/sets-zstd" | cut -f1) / 1048576 ))"
fi
awk -v up="$T_UP" -v fc="$T_FC" -v gz="$T_GZ" -v rss="$RSS" 'BEGIN {
	r1 = up / fc; r2 = gz / up; m = rss / 1024
	printf "upshift / pg_dump -Fc      = %.2fx  (target <= 1.00x) %s\n", r1, (r1 <= 1.0 ? "OK" : "MISSED")
	printf "pg_dump|gzip / upshift     = %.2fx  (target >= 2.00x) %s\n", r2, (r2 >= 2.0 ? "OK" : "MISSED")
	printf "upshift peak RSS           = %.1f MiB (target <= 64 MiB) %s\n", m, (m <= 64 ? "OK" : "MISSED")
}'
