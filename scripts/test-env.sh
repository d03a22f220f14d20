#!/usr/bin/env bash
# Prepares a fresh Debian machine for upshift's tests, idempotently:
#   - docker.io installed and dockerd running (a stale pid file is handled),
#   - the docker compose v2 plugin (built from its Go module when missing),
#   - ansible (for the e2e test of examples/ansible),
#   - the test PostgreSQL images upshift-test/postgres:15, built from the host's
#     Debian PostgreSQL binaries, and upshift-test/postgres:17, from Debian
#     trixie's packages (scripts/pg-image.sh; no registry is needed).
set -euo pipefail

COMPOSE_VERSION="${COMPOSE_VERSION:-v2.40.3}"
PG_MAJOR="${PG_MAJOR:-15}"
PG_IMAGE="upshift-test/postgres:${PG_MAJOR}"
PG_MAJOR_NEXT="${PG_MAJOR_NEXT:-17}"
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

# the test PostgreSQL images (skipped when they exist): 15 from the host's
# binaries, 17 (the major-upgrade hop's target) from Debian trixie's packages
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_IMAGE="$PG_IMAGE" bash "$here/pg-image.sh" "$PG_MAJOR"
PG_IMAGE="upshift-test/postgres:${PG_MAJOR_NEXT}" bash "$here/pg-image.sh" "$PG_MAJOR_NEXT"
