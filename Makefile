.PHONY: run test build vet fmt bench chaos security

# Run the service and the Meta sandbox beside it, on a Postgres found
# or started by scripts/postgres.sh, with development secrets from .env.
run:
	scripts/run.sh

# The whole test suite with the race detector, on a Postgres found or started the same way,
# then a short run of each fuzz target of the parsers and validators that face the internet. The budgets are
# execution counts, not durations: a -fuzztime duration races Go's fuzz coordinator at its
# deadline and can fail with "context deadline exceeded" having found nothing.
test:
	url="$$(scripts/postgres.sh)" && DATABASE_URL="$$url" go test -race -count=1 -timeout 15m ./...
	go test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=60000x ./adapters/meta/webhook/
	go test -run='^$$' -fuzz='^FuzzVerifySignature$$' -fuzztime=150000x ./adapters/meta/webhook/
	go test -run='^$$' -fuzz='^FuzzValidateTemplate$$' -fuzztime=30000x ./domain/
	go test -run='^$$' -fuzz='^FuzzCSVReader$$' -fuzztime=30000x ./application/contacts/
	go test -run='^$$' -fuzz='^FuzzParseRateCard$$' -fuzztime=30000x ./domain/
	go test -run='^$$' -fuzz='^FuzzSniffMedia$$' -fuzztime=30000x ./domain/
	go test -run='^$$' -fuzz='^FuzzValidateRule$$' -fuzztime=30000x ./domain/
	go test -run='^$$' -fuzz='^FuzzHookURL$$' -fuzztime=30000x ./domain/

build:
	go build -o bin/waba ./cmd/waba

vet:
	go vet ./...

# Capacity figures (ingest vs a plain-INSERT baseline, inbound processing, status processing
# without vs with the usage ledger, inbound processing without vs with 50 automation rules
# per workspace (about a minute more), send, Go benchmarks, scaling): waba serve processes on
# loopback, a scratch database; a few minutes.
# Then the live events (bench/live, under a minute): 1,000 Server-Sent Events streams on one
# role-all process while it takes 500 inbound messages/s; delivery latency, deliveries
# missing, RSS per idle stream. Then a campaign (bench/campaign, up to about 7 minutes): 100,000
# recipients on a 1,000 msg/s number while an API client sends 10 msg/s; time to queue, send
# rate against the pace, API latency, peak RSS, Postgres rows per recipient. Then the
# webhooks to customers (bench/hooks, about two minutes): events delivered a second to one
# receiver, and a healthy endpoint's latency while another times out. Each prints its own
# table.
bench:
	url="$$(scripts/postgres.sh)" && DATABASE_URL="$$url" go run ./bench/capacity && DATABASE_URL="$$url" go run ./bench/live && DATABASE_URL="$$url" go run ./bench/campaign && DATABASE_URL="$$url" go run ./bench/hooks

# Crash and outage checks: kill -9 during ingest, Postgres cut off through a proxy, a worker
# killed during sends, three instances with Redis (database 11, flushed), kill -9 twice during
# a campaign, kill -9 twice during webhook deliveries to a customer's endpoint. Exits non-zero
# on any lost, doubled or twice-sent message, or any webhook event never delivered.
chaos:
	url="$$(scripts/postgres.sh)" && DATABASE_URL="$$url" go run ./bench/chaos

# Security probes (signatures, replays, JWTs, cross-tenant ids, hostile parameters and
# bodies, live event streams and their tickets; webhook endpoints against SSRF, DNS
# rebinding between save and dial and redirects; catastrophic automation regexes; media
# type spoofing, path traversal in file names and oversize uploads) and bounded fuzzing;
# exits non-zero if any probe was accepted.
security:
	url="$$(scripts/postgres.sh)" && DATABASE_URL="$$url" go run ./bench/security
