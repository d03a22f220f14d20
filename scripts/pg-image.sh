#!/usr/bin/env bash
# Builds the test PostgreSQL image upshift-test/postgres:MAJOR into a FROM scratch
# image, without a registry, idempotently (nothing is done when the image exists):
#   - from the host's Debian binaries when /usr/lib/postgresql/MAJOR is installed
#     (bookworm has 15), else
#   - from Debian's packages of another suite (PG_SUITE, default trixie, which has
#     17), fetched with a private apt configuration under a temp dir: the host's
#     apt sources, state and packages are not touched. The packages are only
#     unpacked (dpkg -x), never installed; the binaries' libraries are resolved
#     with that suite's own dynamic loader.
# The image honours POSTGRES_USER/PASSWORD/DB and PGDATA like the official one,
# runs as uid 999, stops on SIGINT, and has busybox sh, psql, pg_isready,
# pg_dump, pg_dumpall and pg_restore.
#
#   bash scripts/pg-image.sh 17          # upshift-test/postgres:17
#   PG_IMAGE=x/y:z bash scripts/pg-image.sh 17
set -euo pipefail

MAJOR="${1:?usage: pg-image.sh MAJOR (e.g. 15 or 17)}"
case "$MAJOR" in '' | *[!0-9]*)
  echo "pg-image.sh: MAJOR must be a number such as 17, not $MAJOR" >&2
  exit 2
  ;;
esac
PG_IMAGE="${PG_IMAGE:-upshift-test/postgres:${MAJOR}}"
PG_SUITE="${PG_SUITE:-trixie}"
PG_MIRROR="${PG_MIRROR:-http://deb.debian.org/debian}"
KEYRING="${PG_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"

log() { printf '[pg-image] %s\n' "$*" >&2; }

if docker image inspect "$PG_IMAGE" >/dev/null 2>&1; then
  log "$PG_IMAGE ready (exists)"
  exit 0
fi
[ -x /bin/busybox ] || {
  log "/bin/busybox is missing: apt-get install busybox-static (scripts/test-env.sh does)"
  exit 1
}

started=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/ctx/rootfs"
mkdir -p "$root"

if [ -x "/usr/lib/postgresql/${MAJOR}/bin/postgres" ]; then
  src=/
  log "building $PG_IMAGE from the host's /usr/lib/postgresql/${MAJOR}"
  listlibs() { ldd "$1" 2>/dev/null || true; }
else
  src="$work/src"
  log "building $PG_IMAGE from Debian ${PG_SUITE}'s postgresql-${MAJOR} (private apt config in $work/apt)"
  [ -r "$KEYRING" ] || {
    log "$KEYRING is missing: apt-get install debian-archive-keyring"
    exit 1
  }
  apt="$work/apt"
  mkdir -p "$apt/sources.list.d" "$apt/preferences.d" "$apt/state/lists/partial" "$apt/cache/archives/partial"
  : >"$apt/state/status" # nothing installed: apt resolves the whole closure, libc6 included
  printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$PG_MIRROR" "$PG_SUITE" >"$apt/sources.list"
  aptopts=(
    -o "Dir::Etc::SourceList=$apt/sources.list"
    -o "Dir::Etc::SourceParts=$apt/sources.list.d"
    -o "Dir::Etc::Preferences=$apt/preferences"
    -o "Dir::Etc::PreferencesParts=$apt/preferences.d"
    -o "Dir::State=$apt/state"
    -o "Dir::State::status=$apt/state/status"
    -o "Dir::Cache=$apt/cache"
    -o "APT::Architecture=amd64"
    -o "APT::Install-Recommends=false"
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
    -o "Debug::NoLocking=1"
  )
  apt-get "${aptopts[@]}" update -qq >"$work/apt-update.log" 2>&1 || {
    cat "$work/apt-update.log" >&2
    log "apt-get update of $PG_SUITE from $PG_MIRROR failed (network? PG_MIRROR to use another mirror)"
    exit 1
  }
  apt-get "${aptopts[@]}" install -y -qq --download-only "postgresql-${MAJOR}" >"$work/apt-get.log" 2>&1 || {
    cat "$work/apt-get.log" >&2
    log "downloading postgresql-${MAJOR} from $PG_SUITE failed"
    exit 1
  }
  mkdir -p "$src"
  for deb in "$apt"/cache/archives/*.deb; do dpkg -x "$deb" "$src"; done
  ldso="$src/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
  [ -x "$ldso" ] || {
    log "no dynamic loader in the unpacked $PG_SUITE libc6 ($ldso)"
    exit 1
  }
  libpath="$src/usr/lib/x86_64-linux-gnu:$src/lib/x86_64-linux-gnu"
  listlibs() { "$ldso" --library-path "$libpath" --list "$1" 2>/dev/null || true; }
fi

pgsrc="$src/usr/lib/postgresql/${MAJOR}"
[ -x "$pgsrc/bin/postgres" ] || {
  log "no postgres binary at $pgsrc/bin"
  exit 1
}
for b in postgres initdb pg_ctl psql pg_isready pg_dump pg_dumpall pg_restore; do
  [ -x "$pgsrc/bin/$b" ] || {
    log "$pgsrc/bin/$b is missing"
    exit 1
  }
done

mkdir -p "$root"/{bin,etc,tmp,var/run/postgresql,var/lib/postgresql/data,usr/share/postgresql,usr/lib/postgresql,lib64}
cp -a "$pgsrc" "$root/usr/lib/postgresql/"
cp -a "$src/usr/share/postgresql/${MAJOR}" "$root/usr/share/postgresql/"
[ -d "$src/usr/share/zoneinfo" ] && cp -a "$src/usr/share/zoneinfo" "$root/usr/share/" || true
rm -f "$root/usr/lib/postgresql/${MAJOR}/lib/llvmjit"*
rm -rf "$root/usr/lib/postgresql/${MAJOR}/lib/bitcode"
# every shared library the binaries and extension modules load (not the JIT),
# put at the path the loader resolved it to, relative to the source root
libs=$(find "$root/usr/lib/postgresql/${MAJOR}" -type f \( -perm -u+x -o -name '*.so' \) -print0 |
  while IFS= read -r -d '' f; do listlibs "$f"; done | awk '/=> \//{print $3}' | sort -u)
n=0
for lib in $libs; do
  rel="$lib"
  if [ "$src" != / ]; then
    case "$lib" in
    "$src"/*) rel="${lib#"$src"}" ;;
    *)
      log "$lib was resolved outside the unpacked $PG_SUITE packages: refusing to mix the host's libraries in"
      exit 1
      ;;
    esac
  fi
  mkdir -p "$root$(dirname "$rel")"
  cp -L "$lib" "$root$rel"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || {
  log "no shared library resolved for the PostgreSQL binaries"
  exit 1
}
if [ "$src" = / ]; then
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
else
  cp -L "$ldso" "$root/lib64/ld-linux-x86-64.so.2"
fi
cp /bin/busybox "$root/bin/busybox"
for a in sh cat ls mkdir rm chmod echo sleep env grep sed id; do ln -sf busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:postgres:/var/lib/postgresql:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\npostgres:x:999:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
cat >"$root/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# Minimal entrypoint honouring POSTGRES_USER/PASSWORD/DB like the official image.
set -e
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  [ -n "$POSTGRES_PASSWORD" ] || { echo "POSTGRES_PASSWORD is not set" >&2; exit 1; }
  pw=/tmp/.pwfile.$$
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pw"
  initdb --username="$user" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >/tmp/initdb.log 2>&1 || { cat /tmp/initdb.log >&2; exit 1; }
  rm -f "$pw"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$db" != "postgres" ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\";" | postgres --single -D "$PGDATA" -j postgres >/dev/null
  fi
  echo "PostgreSQL init process complete; ready for start up."
fi
exec postgres "$@"
SH
chmod 0755 "$root/docker-entrypoint.sh"
chmod 0700 "$root/var/lib/postgresql/data"
cat >"$work/ctx/Dockerfile" <<DF
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/lib/postgresql/${MAJOR}/bin:/bin PGDATA=/var/lib/postgresql/data LANG=C
RUN ["/bin/busybox", "sh", "-c", "chown -R 999:999 /var/lib/postgresql /var/run/postgresql && chmod 0700 /var/lib/postgresql/data"]
USER 999:999
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/docker-entrypoint.sh"]
DF
docker build -q -t "$PG_IMAGE" "$work/ctx" >/dev/null
docker run --rm --entrypoint postgres "$PG_IMAGE" --version >&2 || {
  log "$PG_IMAGE was built but its postgres does not run"
  docker image rm "$PG_IMAGE" >/dev/null 2>&1 || true
  exit 1
}
log "$PG_IMAGE ready (built in $(($(date +%s) - started))s)"
