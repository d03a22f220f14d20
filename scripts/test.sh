#!/usr/bin/env bash
# Runs every test, including the end-to-end tests against real Docker + PostgreSQL.
# Needs what scripts/test-env.sh sets up.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -count=1 -timeout 45m -p 2 ./... "$@"
