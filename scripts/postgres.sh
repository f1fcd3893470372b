#!/usr/bin/env bash
# Finds a Postgres server for `make run` / `make test` and prints its admin URL on stdout
# (what it chose goes to stderr). Order: $DATABASE_URL; a server on 127.0.0.1:5432; a
# project-local cluster made with the system's initdb/pg_ctl in .pgdata (port 54329,
# started on demand); `docker compose up -d postgres`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "postgres: $*" >&2; }

if [[ -n "${DATABASE_URL:-}" ]]; then
  say "using DATABASE_URL"
  echo "$DATABASE_URL"
  exit 0
fi

answers() { # host port
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$1" -p "$2" -t 2
  else
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
  fi
}

if answers 127.0.0.1 5432; then
  say "using the server on 127.0.0.1:5432"
  echo "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
  exit 0
fi

find_bin() { # name
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local p
  p=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1 || true)
  [[ -n "$p" ]] && echo "$p"
}

INITDB=$(find_bin initdb || true)
PGCTL=$(find_bin pg_ctl || true)
LOCAL_PORT=54329
DATA="$PWD/.pgdata"
if [[ -n "$INITDB" && -n "$PGCTL" ]]; then
  # initdb and postgres refuse to run as root: run them as the postgres user when we are root.
  run() { if [[ $(id -u) -eq 0 ]]; then runuser -u "${PG_LOCAL_USER:-postgres}" -- "$@"; else "$@"; fi; }
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    say "creating a project-local cluster in .pgdata"
    mkdir -p "$DATA"
    [[ $(id -u) -eq 0 ]] && chown "${PG_LOCAL_USER:-postgres}" "$DATA"
    run "$INITDB" -D "$DATA" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  if ! answers 127.0.0.1 "$LOCAL_PORT"; then
    say "starting the project-local cluster on 127.0.0.1:$LOCAL_PORT"
    run "$PGCTL" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
      -o "-p $LOCAL_PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null
  fi
  say "using the project-local cluster on 127.0.0.1:$LOCAL_PORT"
  echo "postgres://postgres@127.0.0.1:$LOCAL_PORT/postgres?sslmode=disable"
  exit 0
fi

if command -v docker >/dev/null 2>&1; then
  say "starting docker compose service postgres"
  docker compose up -d --wait postgres >&2
  echo "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"
  exit 0
fi

say "no Postgres found: set DATABASE_URL, start a server on 127.0.0.1:5432, install PostgreSQL (initdb) or Docker"
exit 1
