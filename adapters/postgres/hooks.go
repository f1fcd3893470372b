package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/hooks"
	"github.com/wabaplatform/waba/domain"
)

// HookRepo keeps webhook endpoints and their deliveries (hooks.Store).
type HookRepo struct{ q Querier }

// NewHookRepo returns the repository on q (a pool or a transaction).
func NewHookRepo(q Querier) *HookRepo { return &HookRepo{q: q} }

const endpointColumns = `workspace_id, id, url, events, description, enabled, secret_ciphertext, secret_nonce,
	secret_wrapped_key, secret_key_id, previous_ciphertext, previous_nonce, previous_wrapped_key, previous_key_id,
	previous_until, failing_since, disabled_at, created_at, updated_at`

func scanEndpoint(row pgx.CollectableRow) (domain.HookEndpoint, error) {
	var e domain.HookEndpoint
	var events []string
	var prev domain.Sealed
	var prevKey *string
	err := row.Scan(&e.WorkspaceID, &e.ID, &e.URL, &events, &e.Description, &e.Enabled, &e.Secret.Ciphertext, &e.Secret.Nonce,
		&e.Secret.WrappedKey, &e.Secret.KeyID, &prev.Ciphertext, &prev.Nonce, &prev.WrappedKey, &prevKey,
		&e.PreviousUntil, &e.FailingSince, &e.DisabledAt, &e.CreatedAt, &e.UpdatedAt)
	if err != nil {
		return e, err
	}
	for _, s := range events {
		e.Events = append(e.Events, domain.HookEventType(s))
	}
	if prevKey != nil {
		prev.KeyID = *prevKey
		e.Previous = &prev
	}
	return e, nil
}

func endpointArgs(e domain.HookEndpoint) []any {
	events := make([]string, len(e.Events))
	for i, t := range e.Events {
		events[i] = string(t)
	}
	var pc, pn, pw []byte
	var pk *string
	if e.Previous != nil {
		pc, pn, pw, pk = e.Previous.Ciphertext, e.Previous.Nonce, e.Previous.WrappedKey, &e.Previous.KeyID
	}
	return []any{e.WorkspaceID, e.ID, e.URL, events, e.Description, e.Enabled, e.Secret.Ciphertext, e.Secret.Nonce,
		e.Secret.WrappedKey, e.Secret.KeyID, pc, pn, pw, pk, e.PreviousUntil, e.FailingSince, e.DisabledAt, e.CreatedAt, e.UpdatedAt}
}

// InsertEndpoint implements hooks.Store.
func (r *HookRepo) InsertEndpoint(ctx context.Context, e domain.HookEndpoint) error {
	_, err := r.q.Exec(ctx, `INSERT INTO webhook_endpoints (`+endpointColumns+`) VALUES (`+params(1, 19)+`)`, endpointArgs(e)...)
	return err
}

// Endpoint implements hooks.Store.
func (r *HookRepo) Endpoint(ctx context.Context, ws, id domain.ID, forUpdate bool) (domain.HookEndpoint, error) {
	lock := ""
	if forUpdate {
		lock = " FOR UPDATE"
	}
	rows, err := r.q.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2`+lock, ws, id)
	if err != nil {
		return domain.HookEndpoint{}, err
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEndpoint)
	return e, notFound(err, "webhook endpoint")
}

// Endpoints implements hooks.Store.
func (r *HookRepo) Endpoints(ctx context.Context, ws domain.ID) ([]domain.HookEndpoint, error) {
	rows, err := r.q.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY id`, ws)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEndpoint)
}

// UpdateEndpoint implements hooks.Store.
func (r *HookRepo) UpdateEndpoint(ctx context.Context, e domain.HookEndpoint) error {
	_, err := r.q.Exec(ctx, `UPDATE webhook_endpoints SET url = $3, events = $4, description = $5, enabled = $6,
		secret_ciphertext = $7, secret_nonce = $8, secret_wrapped_key = $9, secret_key_id = $10, previous_ciphertext = $11,
		previous_nonce = $12, previous_wrapped_key = $13, previous_key_id = $14, previous_until = $15, failing_since = $16,
		disabled_at = $17, updated_at = $18
		WHERE workspace_id = $1 AND id = $2`, append(endpointArgs(e)[:17], e.UpdatedAt)...)
	return err
}

// DeleteEndpoint implements hooks.Store: its deliveries go with it (the foreign key).
func (r *HookRepo) DeleteEndpoint(ctx context.Context, ws, id domain.ID) error {
	_, err := r.q.Exec(ctx, `DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2`, ws, id)
	return err
}

// Subscribers implements hooks.Store.
func (r *HookRepo) Subscribers(ctx context.Context, workspaces []domain.ID) ([]domain.HookEndpoint, error) {
	rows, err := r.q.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE workspace_id = ANY ($1) AND enabled ORDER BY workspace_id, id`, workspaces)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEndpoint)
}

// InsertDeliveries implements hooks.Store: one statement for the whole batch.
func (r *HookRepo) InsertDeliveries(ctx context.Context, ds []domain.HookDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	n := len(ds)
	ws, ids, eps := make([]domain.ID, n), make([]domain.ID, n), make([]domain.ID, n)
	eventIDs, types := make([]string, n), make([]string, n)
	bodies := make([][]byte, n)
	next, created := make([]*time.Time, n), make([]time.Time, n)
	for i, d := range ds {
		ws[i], ids[i], eps[i], eventIDs[i], types[i], bodies[i] = d.WorkspaceID, d.ID, d.EndpointID, d.EventID, string(d.EventType), d.Body
		next[i], created[i] = d.NextAttemptAt, d.CreatedAt
	}
	_, err := r.q.Exec(ctx, `
		INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_id, event_type, body, status, next_attempt_at,
			created_at, updated_at)
		SELECT ws, id, ep, ev, ty, body, 'pending', next, at, at
		FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bytea[], $7::timestamptz[], $8::timestamptz[])
			AS d (ws, id, ep, ev, ty, body, next, at)
		ON CONFLICT (endpoint_id, event_id) DO NOTHING`, ws, ids, eps, eventIDs, types, bodies, next, created)
	return err
}

const deliveryColumns = `workspace_id, id, endpoint_id, event_id, event_type, body, status, attempts, response_status,
	coalesce(response_body, ''), coalesce(error, ''), duration_ms, next_attempt_at, created_at, updated_at`

func scanDelivery(row pgx.CollectableRow) (domain.HookDelivery, error) {
	var d domain.HookDelivery
	err := row.Scan(&d.WorkspaceID, &d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Body, &d.Status, &d.Attempts,
		&d.ResponseStatus, &d.ResponseBody, &d.Error, &d.DurationMS, &d.NextAttemptAt, &d.CreatedAt, &d.UpdatedAt)
	return d, err
}

// Delivery implements hooks.Store.
func (r *HookRepo) Delivery(ctx context.Context, ws, id domain.ID) (domain.HookDelivery, error) {
	rows, err := r.q.Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE workspace_id = $1 AND id = $2`, ws, id)
	if err != nil {
		return domain.HookDelivery{}, err
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDelivery)
	return d, notFound(err, "webhook delivery")
}

// Deliveries implements hooks.Store: keyset paging on the id, newest first.
func (r *HookRepo) Deliveries(ctx context.Context, ws, endpointID domain.ID, f hooks.DeliveryFilter, limit int) ([]domain.HookDelivery, error) {
	var cursor *domain.ID
	if !f.Cursor.IsZero() {
		cursor = &f.Cursor
	}
	var status *string
	if f.Status != "" {
		s := string(f.Status)
		status = &s
	}
	rows, err := r.q.Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE workspace_id = $1 AND endpoint_id = $2 AND ($3::text IS NULL OR status = $3) AND ($4::uuid IS NULL OR id < $4)
		ORDER BY id DESC LIMIT $5`, ws, endpointID, status, cursor, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanDelivery)
}

// RetryDelivery implements hooks.Store.
func (r *HookRepo) RetryDelivery(ctx context.Context, ws, id domain.ID, at time.Time) error {
	_, err := r.q.Exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, updated_at = $3,
		lease_job = NULL, lease_attempt = NULL
		WHERE workspace_id = $1 AND id = $2`, ws, id, at)
	return err
}

// Claim implements hooks.Store: nothing of a disabled endpoint.
//
// Why a holder as well as the lease: a process killed mid-send leaves its claimed rows
// leased for hooks.Lease (minutes), while DeadClientRescuer hands its running job back to
// the queue within a second or two. The job keeps its id and River increments its attempt
// on every run, so the rescued run takes back the rows an earlier attempt of the same job
// holds (lease_attempt < h.Attempt) at once. Rows of any other job (or of this same run)
// wait for the lease, as before. Record clears the holder, so a recorded failure waits
// for its retry time whichever run of the job comes next.
func (r *HookRepo) Claim(ctx context.Context, ref hooks.EndpointRef, h hooks.Holder, now, leaseUntil time.Time, limit int) ([]domain.HookDelivery, error) {
	var job *int64
	var attempt *int32
	if h.Job != 0 {
		a := int32(h.Attempt)
		job, attempt = &h.Job, &a
	}
	rows, err := r.q.Query(ctx, `
		WITH due AS (
			SELECT workspace_id, id FROM webhook_deliveries
			WHERE endpoint_id = $2 AND status IN ('pending', 'failed')
				AND (next_attempt_at <= $3 OR (lease_job = $6 AND lease_attempt < $7))
				AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.workspace_id = $1 AND e.id = $2 AND e.enabled)
			ORDER BY next_attempt_at LIMIT $5
			FOR UPDATE SKIP LOCKED)
		UPDATE webhook_deliveries d SET next_attempt_at = $4, lease_job = $6, lease_attempt = $7
		FROM due WHERE d.workspace_id = due.workspace_id AND d.id = due.id AND d.workspace_id = $1
		RETURNING `+claimedColumns, ref.WorkspaceID, ref.EndpointID, now, leaseUntil, limit, job, attempt)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanDelivery)
}

// claimedColumns are deliveryColumns of the claim's alias d.
const claimedColumns = `d.workspace_id, d.id, d.endpoint_id, d.event_id, d.event_type, d.body, d.status, d.attempts, d.response_status,
	coalesce(d.response_body, ''), coalesce(d.error, ''), d.duration_ms, d.next_attempt_at, d.created_at, d.updated_at`

// sanitizeText makes text Postgres stores: valid UTF-8 without NUL (a receiver's answer
// may be anything).
func sanitizeText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// Record implements hooks.Store: one statement for every outcome; it ends the leases.
func (r *HookRepo) Record(ctx context.Context, rs []hooks.Result) error {
	if len(rs) == 0 {
		return nil
	}
	n := len(rs)
	ws, ids := make([]domain.ID, n), make([]domain.ID, n)
	statuses, bodies, errs := make([]string, n), make([]*string, n), make([]*string, n)
	attempts, durations := make([]int32, n), make([]int32, n)
	codes := make([]*int32, n)
	next, at := make([]*time.Time, n), make([]time.Time, n)
	for i, res := range rs {
		ws[i], ids[i], statuses[i], attempts[i], durations[i] = res.WorkspaceID, res.ID, string(res.Status), int32(res.Attempts), int32(res.DurationMS)
		if res.ResponseStatus != nil {
			c := int32(*res.ResponseStatus)
			codes[i] = &c
		}
		if res.ResponseBody != "" {
			b := sanitizeText(res.ResponseBody)
			bodies[i] = &b
		}
		if res.Error != "" {
			e := sanitizeText(res.Error)
			errs[i] = &e
		}
		next[i], at[i] = res.NextAttemptAt, res.At
	}
	_, err := r.q.Exec(ctx, `
		UPDATE webhook_deliveries d SET status = r.status, attempts = r.attempts, response_status = r.code,
			response_body = r.body, error = r.err, duration_ms = r.duration, next_attempt_at = r.next, updated_at = r.at,
			lease_job = NULL, lease_attempt = NULL
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::int[],
			$9::timestamptz[], $10::timestamptz[]) AS r (ws, id, status, attempts, code, body, err, duration, next, at)
		WHERE d.workspace_id = r.ws AND d.id = r.id`, ws, ids, statuses, attempts, codes, bodies, errs, durations, next, at)
	return err
}

// DueEndpoints implements hooks.Store.
func (r *HookRepo) DueEndpoints(ctx context.Context, now time.Time, limit int) ([]hooks.EndpointRef, error) {
	rows, err := r.q.Query(ctx, `
		SELECT e.workspace_id, e.id FROM webhook_endpoints e
		WHERE e.enabled AND EXISTS (SELECT 1 FROM webhook_deliveries d
			WHERE d.endpoint_id = e.id AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= $1)
		LIMIT $2`, now, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (hooks.EndpointRef, error) {
		var ref hooks.EndpointRef
		err := row.Scan(&ref.WorkspaceID, &ref.EndpointID)
		return ref, err
	})
}

// HookSecretsAfter implements rotation.HookStore.
func (r *HookRepo) HookSecretsAfter(ctx context.Context, keyID string, after domain.ID, limit int) ([]domain.HookEndpoint, error) {
	rows, err := r.q.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE (secret_key_id <> $1 OR (previous_key_id IS NOT NULL AND previous_key_id <> $1)) AND id > $2
		ORDER BY id LIMIT $3 FOR UPDATE`, keyID, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEndpoint)
}

// UpdateHookSecrets implements rotation.HookStore: the sealed secrets only.
func (r *HookRepo) UpdateHookSecrets(ctx context.Context, e domain.HookEndpoint) error {
	args := endpointArgs(e)
	_, err := r.q.Exec(ctx, `UPDATE webhook_endpoints SET secret_ciphertext = $3, secret_nonce = $4, secret_wrapped_key = $5,
		secret_key_id = $6, previous_ciphertext = $7, previous_nonce = $8, previous_wrapped_key = $9, previous_key_id = $10
		WHERE workspace_id = $1 AND id = $2`, e.WorkspaceID, e.ID, args[6], args[7], args[8], args[9], args[10], args[11], args[12], args[13])
	return err
}
