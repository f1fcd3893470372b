#!/usr/bin/env bash
# `make run`: finds Postgres, creates the waba database, loads .env, starts the Meta
# sandbox on 127.0.0.1:8090 and runs the server against it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/dev-env.sh
# .env fills in what the environment does not set already (a variable you export wins).
while IFS= read -r line; do
  key=${line%%=*}
  [[ -z "$key" || "$key" == \#* || -n "${!key:-}" ]] || export "$line"
done < .env
if [[ -z "${DATABASE_URL:-}" ]]; then
  ADMIN_URL=$(scripts/postgres.sh)
  DB=${WABA_DB:-waba}
  go run ./scripts/createdb "$ADMIN_URL" "$DB"
  export DATABASE_URL="${ADMIN_URL%%/postgres\?*}/$DB?sslmode=disable"
fi
mkdir -p bin
go build -o bin/waba ./cmd/waba

# The sandbox stands in for graph.facebook.com unless META_GRAPH_URL points elsewhere.
if [[ -z "${META_GRAPH_URL:-}" ]]; then
  export SANDBOX_ADDR=${SANDBOX_ADDR:-127.0.0.1:8090}
  # The sandbox delivers status and inbound webhooks to this server, signed like Meta.
  port=${HTTP_ADDR:-:8080}; port=${port##*:}
  export SANDBOX_CALLBACK_URL=${SANDBOX_CALLBACK_URL:-http://127.0.0.1:$port/webhooks/meta}
  # Onboarding gives Meta PUBLIC_URL/webhooks/meta as each WABA's callback; the sandbox
  # checks it with the verification handshake and delivers that WABA's webhooks there.
  export PUBLIC_URL=${PUBLIC_URL:-http://127.0.0.1:$port}
  bin/waba sandbox > sandbox.log 2>&1 &
  SANDBOX_PID=$!
  trap 'kill $SANDBOX_PID 2>/dev/null || true' EXIT
  export META_GRAPH_URL="http://$SANDBOX_ADDR"
  echo "meta sandbox on $META_GRAPH_URL, delivering webhooks to $SANDBOX_CALLBACK_URL (log: sandbox.log)" >&2
fi
# Customer webhook endpoints may point at a receiver on this machine (plain http, loopback):
# development only, never in production.
export WEBHOOKS_ALLOW_HTTP=${WEBHOOKS_ALLOW_HTTP:-true}
export WEBHOOKS_ALLOWED_CIDRS=${WEBHOOKS_ALLOWED_CIDRS:-127.0.0.0/8,::1/128}
# SMTP_URL is left unset, so the server uses its log mailer: invitation and password-reset
# links appear in its log. Export SMTP_URL (and MAIL_FROM) to send real mail.
console_port=${HTTP_ADDR:-:8080}; console_port=${console_port##*:}
echo "web console: http://localhost:$console_port/" >&2
bin/waba serve "$@"
