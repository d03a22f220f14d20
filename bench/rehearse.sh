#!/usr/bin/env bash
# Benchmark of the migration rehearsal (issue #14): what it adds to an
# upgrade's run time, against the pg_restore time of the same database, and
# what it adds to the downtime (target: rehearsal <= 1.5x pg_restore, 0 s of
# downtime).
#
# Fresh demo stacks, each grown to about SIZE MiB of notes whose bodies are
# random hex (compresses about 2:1, unlike pgbench's filler), the duplicate
# notes removed, then `upgrade --yes --json`:
#   heavy: 2.0.0 -> 2.1.0, whose migration fills note_tags with a row per
#     note (each checked against its foreign key) and builds a unique index
#     over every note body: a migration that itself costs about a restore
#   A  default: the restore point is a base backup (physical); the rehearsal
#      runs on a scratch copy of that base backup and of the WAL written
#      since, recovered to its end (backup.PhysicalScratch)
#   B  --restore-proof always: the restore point is a pg_dump, proven by a
#      restore into a scratch server that the rehearsal then runs on
#   C  --no-rehearsal: the baseline (run time and downtime)
#   light: 1.1.0 -> 2.0.0, whose migration is a NOT NULL check (one scan),
#     a rename and a new table: what most migrations look like
#   D  default, E  --no-rehearsal
# and, on stack A's database, `pg_dump -Fc` + `pg_restore` into a new
# database inside the db container (the restore the rehearsal stands on).
# Downtime = the stop, migrate, start and verify steps (from the events).
#
# Environment: SIZE (MiB, default 1024), PGIMAGE (default
# upshift-test/postgres:15), LIGHT=0 skips D and E, KEEP=1 keeps the stacks.
set -euo pipefail

SIZE=${SIZE:-1024}
PGIMAGE=${PGIMAGE:-${UPSHIFT_TEST_PG_IMAGE:-upshift-test/postgres:15}}
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/upshift-bench-rehearse-XXXXXX")
BIN=$WORK/upshift
# Own demo images: the app code of this checkout, whatever built the
# shared upshift-demo/app images (demo.ImageRepoEnv).
export UPSHIFT_DEMO_IMAGE_REPO=upbench-rehearse-$$.local/upshift-demo/app
STACKS=()

cleanup() {
	if [ "${KEEP:-}" = 1 ]; then
		echo "kept: $WORK"
		return
	fi
	for d in "${STACKS[@]}"; do "$BIN" demo down --dir "$d" >/dev/null 2>&1 || true; done
	for v in 1.1.0 2.0.0 2.1.0; do docker rmi --force "$UPSHIFT_DEMO_IMAGE_REPO:$v" >/dev/null 2>&1 || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building upshift"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BIN" .)

# stack NAME VERSION: a demo grown to SIZE MiB, duplicates removed, quiet;
# sets dir, project, user, db.
stack() {
	dir=$WORK/$1 project=upbench-$1-$$
	STACKS+=("$dir")
	"$BIN" demo up --dir "$dir" --version "$2" --project "$project" --postgres-image "$PGIMAGE" --port 0 >/dev/null 2>&1
	sed -i 's/^WORKER_INTERVAL_MS=.*/WORKER_INTERVAL_MS=3600000/' "$dir/.env"
	docker compose --project-directory "$dir" -f "$dir/compose.yaml" up -d --wait worker >/dev/null 2>&1
	user=$(sed -n 's/^DB_USER=//p' "$dir/.env")
	db=$(sed -n 's/^DB_NAME=//p' "$dir/.env")
	local rows=$(( SIZE * 1048576 / 330 )) start
	start=$(date +%s)
	docker exec "$project-db-1" psql -qtAX -U "$user" -d "$db" -c "DELETE FROM notes a USING notes b WHERE a.id > b.id AND a.body = b.body" \
		-c "INSERT INTO notes (body, word_count) SELECT string_agg(md5(random()::text || g || i), ' '), 8 FROM generate_series(1, $rows) g, generate_series(1, 8) i GROUP BY g" \
		-c "VACUUM ANALYZE notes" >/dev/null
	echo "   generated $rows notes in $(( $(date +%s) - start ))s"
}

# steps FILE: "step seconds" of every finished step of a --json run.
steps() { jq -r 'select(.event == "step_finished") | "\(.step) \((.duration_ns // 0) / 1e9)"' "$1"; }
sum_of() { awk -v re="$2" '$1 ~ re { s += $2 } END { printf "%.1f", s }' "$1"; }

declare -A RUN TOTAL
MODES="A B C"
[ "${LIGHT:-1}" = 0 ] || MODES="$MODES D E"
for mode in $MODES; do
	from=2.0.0 to=2.1.0 flags=()
	case $mode in
	B) flags=(--restore-proof always) ;;
	C | E) flags=(--no-rehearsal) ;;
	esac
	case $mode in D | E) from=1.1.0 to=2.0.0 ;; esac
	echo "== $mode: stack at $from"
	stack "$(echo "$mode" | tr A-Z a-z)" "$from"
	size=$(docker exec "$project-db-1" psql -qtAX -U "$user" -d "$db" -c "SELECT pg_database_size(current_database())")
	echo "== $mode: database $(( size / 1048576 )) MiB, upgrade --to $to ${flags[*]}"
	start=$(date +%s.%N)
	(cd "$dir" && "$BIN" upgrade --to "$to" --yes --json "${flags[@]}" >"$WORK/$mode.jsonl") || { echo "upgrade $mode failed"; tail -3 "$WORK/$mode.jsonl"; exit 1; }
	TOTAL[$mode]=$(echo "$(date +%s.%N) - $start" | bc)
	steps "$WORK/$mode.jsonl" >"$WORK/$mode.steps"
	RUN[$mode]=$dir
	if [ "$mode" = A ]; then
		echo "== pg_dump -Fc + pg_restore of the same database (in the db container)"
		docker exec "$project-db-1" sh -c "pg_dump -Fc -U $user -d $db -f /tmp/bench.dump"
		docker exec "$project-db-1" psql -qtAX -U "$user" -d "$db" -c "CREATE DATABASE benchrestore" >/dev/null
		rs=$(date +%s.%N)
		docker exec "$project-db-1" pg_restore --no-owner -U "$user" -d benchrestore /tmp/bench.dump
		RESTORE=$(echo "$(date +%s.%N) - $rs" | bc)
		docker exec "$project-db-1" sh -c "rm -f /tmp/bench.dump"
		docker exec "$project-db-1" psql -qtAX -U "$user" -d "$db" -c "DROP DATABASE benchrestore" >/dev/null
	fi
	# Each stack's data goes once measured: five 1 GiB stacks need room.
	[ "${KEEP:-}" = 1 ] || "$BIN" demo down --dir "$dir" >/dev/null 2>&1 || true
done

printf '\n%-34s %8s %8s %8s\n' "" A B C
for what in "backup (+ proof):/backup$" "rehearse:/rehearse$" "downtime (stop..verify):/(stop|migrate|start|verify)$"; do
	label=${what%%:*} re=${what#*:}
	printf '%-34s %8s %8s %8s\n' "$label" "$(sum_of "$WORK/A.steps" "$re")" "$(sum_of "$WORK/B.steps" "$re")" "$(sum_of "$WORK/C.steps" "$re")"
done
printf '%-34s %8.1f %8.1f %8.1f\n' "whole upgrade" "${TOTAL[A]}" "${TOTAL[B]}" "${TOTAL[C]}"
printf 'pg_restore of the same database:   %.1f s\n' "$RESTORE"
ra=$(sum_of "$WORK/A.steps" '/rehearse$')
rb=$(sum_of "$WORK/B.steps" '/rehearse$')
printf 'rehearse step / pg_restore: A (copy of the base backup + WAL) %.2fx, B (on the proof'"'"'s copy: the migration only) %.2fx\n' "$(echo "$ra / $RESTORE" | bc -l)" "$(echo "$rb / $RESTORE" | bc -l)"
# A's rehearse step: the copy (between its two log lines) and the migration
# (the time the rehearsal reports).
at() {
	local t
	t=$(jq -r --arg re "$2" 'select(.event == "log" and ((.line // "") | test($re))) | .time' "$1" | head -1)
	[ -z "$t" ] || date -d "$t" +%s.%N
}
dur() { sed -n 's/.*passed its rehearsal in \([0-9.hms]*\).*/\1/p' "$1" | head -1 |
	awk '{ t = 0; s = $0; if (s ~ /ms$/) { printf "%.1f", s / 1000; exit } if (match(s, /^[0-9.]+h/)) { t += substr(s, 1, RLENGTH - 1) * 3600; s = substr(s, RLENGTH + 1) }
		if (match(s, /^[0-9.]+m/)) { t += substr(s, 1, RLENGTH - 1) * 60; s = substr(s, RLENGTH + 1) } if (s != "") t += s + 0; printf "%.1f", t }'; }
# split FILE: the copy's seconds (between its two log lines) and the
# migration's (what the rehearsal reports), or nothing.
split() {
	local t1 t2
	t1=$(at "$1" 'copying the base backup and the') t2=$(at "$1" 'scratch copy recovered')
	[ -n "$t1" ] && [ -n "$t2" ] && printf '%.1f %s' "$(echo "$t2 - $t1" | bc)" "$(dur "$1")"
}
ratio() { printf '%.2f' "$(echo "($1) / $RESTORE" | bc -l)"; }
read -r copy mig <<<"$(split "$WORK/A.jsonl")" || true
if [ -n "${mig:-}" ]; then
	printf "A's rehearse step: %.1f s copying the base backup and the WAL into the scratch server (%sx pg_restore), %s s the migration (%sx)\n" "$copy" "$(ratio "$copy")" "$mig" "$(ratio "$mig")"
	printf "run time the rehearsal adds beyond running the migration once: (A - C - migration) / pg_restore = %sx\n" "$(ratio "${TOTAL[A]} - ${TOTAL[C]} - $mig")"
fi
printf 'heavy migration: run time added by the rehearsal: (A - C) / pg_restore = %sx (target <= 1.5x)\n' "$(ratio "${TOTAL[A]} - ${TOTAL[C]}")"
printf 'heavy migration: downtime added by the rehearsal: A - C = %.1f s (rehearsal runs before the stop)\n' \
	"$(echo "$(sum_of "$WORK/A.steps" '/(stop|migrate|start|verify)$') - $(sum_of "$WORK/C.steps" '/(stop|migrate|start|verify)$')" | bc -l)"
if [ -n "${TOTAL[D]:-}" ]; then
	printf '\n%-34s %8s %8s\n' "light migration (1.1.0 -> 2.0.0)" D E
	for what in "backup (+ proof):/backup$" "rehearse:/rehearse$" "downtime (stop..verify):/(stop|migrate|start|verify)$"; do
		label=${what%%:*} re=${what#*:}
		printf '%-34s %8s %8s\n' "$label" "$(sum_of "$WORK/D.steps" "$re")" "$(sum_of "$WORK/E.steps" "$re")"
	done
	printf '%-34s %8.1f %8.1f\n' "whole upgrade" "${TOTAL[D]}" "${TOTAL[E]}"
	read -r copy mig <<<"$(split "$WORK/D.jsonl")" || true
	[ -z "${mig:-}" ] || printf "D's rehearse step: %.1f s the copy, %s s the migration\n" "$copy" "$mig"
	printf 'light migration: run time added by the rehearsal: (D - E) / pg_restore = %sx (target <= 1.5x)\n' "$(ratio "${TOTAL[D]} - ${TOTAL[E]}")"
	printf 'light migration: downtime added by the rehearsal: D - E = %.1f s\n' \
		"$(echo "$(sum_of "$WORK/D.steps" '/(stop|migrate|start|verify)$') - $(sum_of "$WORK/E.steps" '/(stop|migrate|start|verify)$')" | bc -l)"
fi
