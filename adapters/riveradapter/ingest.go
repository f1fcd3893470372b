package riveradapter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
)

// WebhookBatchArgs carries the verified Meta webhook bodies one ingest transaction queued:
// one job for many acknowledgements, so River's bookkeeping (insert, fetch, completion) is
// paid per batch, not per body (three status webhooks follow every message sent). Duplicates
// are caught at ingest by webhook_receipts, not by River's unique jobs.
type WebhookBatchArgs struct {
	// Bodies are distinct, in the order they arrived.
	Bodies []WebhookArgs `json:"bodies"`
}

// Kind is stored in job rows: never change it.
func (WebhookBatchArgs) Kind() string { return "webhook.meta_batch" }

// InsertOpts: the webhooks queue and our retry budget (the ingest's insert writes them).
func (WebhookBatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: MaxAttempts}
}

// WebhookArgs carries one verified Meta webhook POST body: an element of a batch, and the
// job of a body that failed in its batch (split out to be retried on its own). The job is
// unique by SHA256, the hash of the raw body, so a batch run again after a crash does not
// split a body out twice.
type WebhookArgs struct {
	// SHA256 is the lowercase hex SHA-256 of the raw body.
	SHA256 string `json:"sha256" river:"unique"`
	// Raw is the exact signed body, base64 in the job's JSON. Not a nested JSON object: any
	// body (even one jsonb refuses) is stored as is, the worker reads the bytes Meta signed,
	// and jsonb need not take a webhook apart at the insert (when River's GIN index on args
	// still existed, a nested webhook put some 40 entries in it at every state change).
	Raw []byte `json:"raw"`
}

// Kind is stored in job rows: never change it.
func (WebhookArgs) Kind() string { return "webhook.meta" }

// InsertOpts: the webhooks queue, our retry budget, one job per distinct body.
func (WebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Body returns the payload.
func (a WebhookArgs) Body() []byte { return a.Raw }

// NewWebhookArgs builds the job of one raw body; it does not parse it.
func NewWebhookArgs(raw []byte) WebhookArgs {
	sum := sha256.Sum256(raw)
	return WebhookArgs{SHA256: hex.EncodeToString(sum[:]), Raw: raw}
}

// WebhookDedupeWindow is how long an acknowledged body's hash is kept: an identical
// redelivery within it is a duplicate. Later ones are caught by the wamid and (wamid,
// status) dedupe of the processing.
const WebhookDedupeWindow = 24 * time.Hour

// WebhookBodiesQuery lists every queued webhook body with the job that answers for it
// (sha256, raw, job_id, kind, state, attempt, errors, created_at, finalized_at, attempted_by): its
// batch's, or its own once its batch split it out. Finding what became of a webhook starts
// here; the benches and the end-to-end tests read it.
const WebhookBodiesQuery = `
	SELECT b->>'sha256' AS sha256, decode(b->>'raw', 'base64') AS raw, j.id AS job_id, j.kind,
	       j.state::text AS state, j.attempt, j.errors, j.created_at, j.finalized_at, j.attempted_by
	FROM river_job j CROSS JOIN LATERAL jsonb_array_elements(j.args->'bodies') b
	WHERE j.kind = 'webhook.meta_batch' AND NOT EXISTS (
	      SELECT 1 FROM river_job s WHERE s.kind = 'webhook.meta' AND s.args->>'sha256' = b->>'sha256')
	UNION ALL
	SELECT args->>'sha256', decode(args->>'raw', 'base64'), id, kind, state::text, attempt, errors, created_at, finalized_at, attempted_by
	FROM river_job WHERE kind = 'webhook.meta'`

// ErrIngestStopped is returned once the ingester is shutting down.
var ErrIngestStopped = errors.New("webhook ingest is stopped")

// IngestConfig tunes group commit. Zero values take the defaults.
type IngestConfig struct {
	// Window is how long the first request of a batch waits for others (default none:
	// a batch is what arrived while the flushers were busy; waiting for company cost
	// more in latency than it saved in commits, see docs/ARCHITECTURE.md).
	Window time.Duration
	// MaxBatch caps the requests of one transaction (default 200).
	MaxBatch int
	// MaxBatchBytes caps the payload bytes of one transaction (default 16 MiB); a single
	// larger payload still goes alone.
	MaxBatchBytes int
	// Flushers is how many batches may commit at once (default 2: fewer, larger commits
	// beat 4 or 8 on the bench).
	Flushers int
	// FlushTimeout bounds one batch's transaction (default 5s).
	FlushTimeout time.Duration
	// OnBatch, when set, observes every committed or failed batch (metrics).
	OnBatch func(size int, elapsed time.Duration, err error)
}

func (c IngestConfig) withDefaults() IngestConfig {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 200
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 16 << 20
	}
	if c.Flushers <= 0 {
		c.Flushers = 2
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = 5 * time.Second
	}
	return c
}

// BatchInserter inserts a batch of distinct webhook jobs in one transaction and reports,
// per job, whether it was already there. The Postgres implementation is pgBatchInserter;
// tests substitute their own.
type BatchInserter func(ctx context.Context, jobs []WebhookArgs) (duplicate []bool, err error)

// Ingester durably queues webhook bodies with group commit: the Ingest calls that arrive
// while a commit is under way (up to MaxBatch) are inserted together in the next
// transaction, so many acknowledgements share one commit. Each caller gets its own result once that transaction
// has committed (or failed).
type Ingester struct {
	cfg    IngestConfig
	insert BatchInserter
	group  *group[*ingestReq]
}

type ingestReq struct {
	args WebhookArgs
	done chan ingestResult
}

type ingestResult struct {
	duplicate bool
	err       error
}

// NewIngester returns a running ingester over pool; Close stops it.
func NewIngester(pool *pgxpool.Pool, cfg IngestConfig) *Ingester {
	return NewIngesterWith(pgBatchInserter(pool), cfg)
}

// NewIngesterWith returns a running ingester over any batch inserter.
func NewIngesterWith(insert BatchInserter, cfg IngestConfig) *Ingester {
	cfg = cfg.withDefaults()
	g := &Ingester{cfg: cfg, insert: insert}
	g.group = newGroup(groupConfig{Window: cfg.Window, MaxBatch: cfg.MaxBatch, MaxBatchBytes: cfg.MaxBatchBytes, Flushers: cfg.Flushers},
		func(r *ingestReq) int { return len(r.args.Raw) }, g.flush)
	return g
}

// Ingest queues raw and returns once the job is committed: duplicate reports that an
// identical body was already queued (or is in the same batch). An error means nothing is
// known to be queued: answer so that Meta retries.
func (g *Ingester) Ingest(ctx context.Context, raw []byte) (duplicate bool, err error) {
	r := &ingestReq{args: NewWebhookArgs(raw), done: make(chan ingestResult, 1)}
	if err := g.group.submit(ctx, r); err != nil {
		if errors.Is(err, errGroupClosed) {
			err = ErrIngestStopped
		}
		return false, err
	}
	select {
	case res := <-r.done:
		return res.duplicate, res.err
	case <-ctx.Done():
		// The batch may still commit; a redelivery is then a duplicate.
		return false, ctx.Err()
	}
}

// Close stops accepting, commits what was already accepted, and waits for the flushers.
func (g *Ingester) Close() { g.group.close() }

// flush inserts one batch: identical bodies inside it are inserted once (two rows with the
// same unique key in one InsertMany fail the whole call), and every request gets the result.
func (g *Ingester) flush(batch []*ingestReq) {
	start := time.Now()
	first := make(map[string]int, len(batch)) // hash -> index in jobs
	jobs := make([]WebhookArgs, 0, len(batch))
	for _, r := range batch {
		if _, ok := first[r.args.SHA256]; !ok {
			first[r.args.SHA256] = len(jobs)
			jobs = append(jobs, r.args)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.FlushTimeout)
	dup, err := g.insert(ctx, jobs)
	cancel()
	if err == nil && len(dup) != len(jobs) {
		err = fmt.Errorf("webhook ingest: %d results for %d jobs", len(dup), len(jobs))
	}
	seen := make(map[string]bool, len(jobs))
	for _, r := range batch {
		res := ingestResult{err: err}
		if err == nil {
			res.duplicate = dup[first[r.args.SHA256]] || seen[r.args.SHA256]
			seen[r.args.SHA256] = true
		}
		r.done <- res
	}
	if g.cfg.OnBatch != nil {
		g.cfg.OnBatch(len(batch), time.Since(start), err)
	}
}

// pgBatchInserter records the batch's hashes in webhook_receipts and queues the new bodies
// as one job, in one statement on pool: one round trip per acknowledged batch instead of
// four (BEGIN, the receipts, River's insert, COMMIT), since the batch waits for it before
// Meta gets its answers, and it holds a background connection, which a campaign's jobs
// keep busy. The job row is what River's insert writes for WebhookBatchArgs (args as
// River marshals them, the column defaults for the rest), and the notification is
// River's, so a worker fetches it at once. Hashes are inserted in order, so two concurrent
// batches sharing bodies lock them in the same order.
func pgBatchInserter(pool *pgxpool.Pool) BatchInserter {
	kind, opts := WebhookBatchArgs{}.Kind(), WebhookBatchArgs{}.InsertOpts()
	return func(ctx context.Context, jobs []WebhookArgs) ([]bool, error) {
		sums, bodies := make([][]byte, len(jobs)), make([]string, len(jobs))
		for i, j := range jobs {
			sum, err := hex.DecodeString(j.SHA256)
			if err != nil {
				return nil, fmt.Errorf("webhook ingest: hash %q: %w", j.SHA256, err)
			}
			body, err := json.Marshal(j)
			if err != nil {
				return nil, err
			}
			sums[i], bodies[i] = sum, string(body)
		}
		sorted := slices.Clone(sums)
		slices.SortFunc(sorted, bytes.Compare)
		rows, err := pool.Query(ctx, `
			WITH fresh AS (
				INSERT INTO webhook_receipts (sha256) SELECT unnest($1::bytea[])
				ON CONFLICT DO NOTHING RETURNING sha256),
			job AS (
				INSERT INTO river_job (args, kind, queue, max_attempts)
				SELECT jsonb_build_object('bodies', jsonb_agg(b.body ORDER BY b.ord)), $4, $5, $6
				FROM unnest($2::bytea[], $3::jsonb[]) WITH ORDINALITY AS b (sha256, body, ord)
				WHERE b.sha256 IN (SELECT sha256 FROM fresh)
				HAVING count(*) > 0
				RETURNING queue)
			SELECT sha256, (SELECT pg_notify(current_schema() || '.river_insert', json_build_object('queue', queue)::text)::text FROM job)
			FROM fresh`, sorted, sums, bodies, kind, opts.Queue, opts.MaxAttempts)
		if err != nil {
			return nil, err
		}
		isNew := make(map[string]bool, len(jobs))
		var sum []byte
		if _, err := pgx.ForEachRow(rows, []any{&sum, nil}, func() error { // nil: the notification's void
			isNew[string(sum)] = true
			return nil
		}); err != nil {
			return nil, err
		}
		dup := make([]bool, len(jobs))
		for i := range jobs {
			dup[i] = !isNew[string(sums[i])]
		}
		return dup, nil
	}
}
