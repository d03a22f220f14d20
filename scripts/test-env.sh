#!/usr/bin/env bash
# Prepares a fresh Debian machine for upshift's tests, idempotently:
#   - docker.io installed and dockerd running (a stale pid file is handled),
#   - the docker compose v2 plugin (built from its Go module when missing),
#   - ansible (for the e2e test of examples/ansible),
#   - the test PostgreSQL image upshift-test/postgres:15 built from the host's
#     Debian PostgreSQL binaries (no registry is needed).
set -euo pipefail

COMPOSE_VERSION="${COMPOSE_VERSION:-v2.40.3}"
PG_MAJOR="${PG_MAJOR:-15}"
PG_IMAGE="upshift-test/postgres:${PG_MAJOR}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

log() { printf '[test-env] %s\n' "$*" >&2; }

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
[ -x "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres" ] || need_pkgs+=("postgresql-${PG_MAJOR}")
command -v tmux >/dev/null 2>&1 || need_pkgs+=(tmux)
command -v ansible-playbook >/dev/null 2>&1 || need_pkgs+=(ansible)
[ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server) # the ssh:// engine e2e runs a real sshd on loopback
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

docker_ok() { docker info >/dev/null 2>&1; }
if ! docker_ok; then
  pidfile=/var/run/docker.pid
  if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    log "removing stale $pidfile"
    $SUDO rm -f "$pidfile"
  fi
  for f in /var/run/docker/containerd/containerd.pid /run/containerd/containerd.pid; do
    if [ -f "$f" ] && ! kill -0 "$(cat "$f")" 2>/dev/null; then $SUDO rm -f "$f"; fi
  done
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd"
    $SUDO sh -c 'nohup dockerd >/var/log/upshift-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do
    docker_ok && break
    sleep 1
  done
  docker_ok || { log "dockerd did not come up; see /var/log/upshift-dockerd.log"; tail -n 30 /var/log/upshift-dockerd.log >&2 || true; exit 1; }
fi
log "docker $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

if ! docker compose version >/dev/null 2>&1; then
  log "building docker compose ${COMPOSE_VERSION} from its Go module (a few minutes)"
  dir=$(go mod download -json "github.com/docker/compose/v2@${COMPOSE_VERSION}" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { log "go mod download of docker compose failed"; exit 1; }
  src=$(mktemp -d)
  cp -r "$dir/." "$src"
  chmod -R u+w "$src"
  $SUDO mkdir -p /usr/local/lib/docker/cli-plugins
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-X github.com/docker/compose/v2/internal.Version=${COMPOSE_VERSION}" -o "$src/docker-compose" ./cmd)
  $SUDO install -m 0755 "$src/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
  rm -rf "$src"
fi
log "$(docker compose version)"

if ! docker image inspect "$PG_IMAGE" >/dev/null 2>&1; then
  log "building $PG_IMAGE from /usr/lib/postgresql/${PG_MAJOR}"
  ctx=$(mktemp -d)
  root="$ctx/rootfs"
  mkdir -p "$root"/{bin,etc,tmp,var/run/postgresql,var/lib/postgresql/data,usr/share,usr/lib}
  mkdir -p "$root/usr/lib/postgresql"
  cp -a "/usr/lib/postgresql/${PG_MAJOR}" "$root/usr/lib/postgresql/"
  mkdir -p "$root/usr/share/postgresql"
  cp -a "/usr/share/postgresql/${PG_MAJOR}" "$root/usr/share/postgresql/"
  [ -d /usr/share/zoneinfo ] && cp -a /usr/share/zoneinfo "$root/usr/share/" || true
  # every shared library the binaries and extension modules load (not the JIT)
  libs=$( (find "/usr/lib/postgresql/${PG_MAJOR}" -type f \( -perm -u+x -o -name '*.so' \) ! -name 'llvmjit*' -print0 |
    xargs -0 ldd 2>/dev/null || true) | awk '/=> \//{print $3}' | sort -u)
  for lib in $libs; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  rm -f "$root/usr/lib/postgresql/${PG_MAJOR}/lib/llvmjit"*
  rm -rf "$root/usr/lib/postgresql/${PG_MAJOR}/lib/bitcode"
  mkdir -p "$root/lib64"
  [ -e /lib64/ld-linux-x86-64.so.2 ] && cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
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
  chown -R 999:999 "$root/var/lib/postgresql" "$root/var/run/postgresql"
  chmod 0700 "$root/var/lib/postgresql/data"
  cat >"$ctx/Dockerfile" <<DF
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:/bin PGDATA=/var/lib/postgresql/data LANG=C
RUN ["/bin/busybox", "sh", "-c", "chown -R 999:999 /var/lib/postgresql /var/run/postgresql && chmod 0700 /var/lib/postgresql/data"]
USER 999:999
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/docker-entrypoint.sh"]
DF
  docker build -q -t "$PG_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
fi
log "$PG_IMAGE ready"
