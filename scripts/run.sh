#!/usr/bin/env bash
# `make run`: finds Postgres, creates the waba database, loads .env, and runs the server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/dev-env.sh
set -a; source .env; set +a
if [[ -z "${DATABASE_URL:-}" ]]; then
  ADMIN_URL=$(scripts/postgres.sh)
  DB=${WABA_DB:-waba}
  go run ./scripts/createdb "$ADMIN_URL" "$DB"
  export DATABASE_URL="${ADMIN_URL%%/postgres\?*}/$DB?sslmode=disable"
fi
mkdir -p bin
go build -o bin/waba ./cmd/waba
exec bin/waba serve "$@"
