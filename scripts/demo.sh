#!/usr/bin/env bash
# The main job on a fresh machine: set up Docker, build upshift (static), and
# rehearse an upgrade of the built-in demo stack in the wizard.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-env.sh
CGO_ENABLED=0 go build -o upshift .
# Without a registry, use the locally built PostgreSQL image.
if [ -z "${UPSHIFT_DEMO_POSTGRES_IMAGE:-}" ] && ! docker image inspect postgres:16-alpine >/dev/null 2>&1; then
  export UPSHIFT_DEMO_POSTGRES_IMAGE=upshift-test/postgres:15
fi
exec ./upshift demo "$@"
