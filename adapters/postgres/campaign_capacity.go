package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/domain"
)

// reachLockClass namespaces the transaction-level advisory locks Reached takes per number
// (the two-key form: it never meets the single-key migration lock).
const reachLockClass = 727_019

// RunningOn implements campaigns.Reach, through the workspace's status index.
func (r *CampaignRepo) RunningOn(ctx context.Context, ws domain.ID, phoneNumberID string) (int, error) {
	var n int
	err := r.q.QueryRow(ctx, `SELECT count(*) FROM campaigns WHERE workspace_id = $1 AND status = 'running' AND phone_number_id = $2`,
		ws, phoneNumberID).Scan(&n)
	return n, err
}

// Reached implements campaigns.Reach in one round trip: the number's lock, then the count
// as a statement of its own, so that its snapshot sees what the previous holder committed.
// A batch takes the lock after its campaign's row lock and before its contacts' (Next),
// and nothing waits for a campaign's row while holding it: no circle of waits.
// The count walks messages_template_sends_idx over the window and reads the status from the
// heap. A template counts whether or not the contact's service window was open (Meta does
// not count those): an overestimate, on the safe side.
func (r *CampaignRepo) Reached(ctx context.Context, ws domain.ID, phoneNumberID string, since time.Time) (int, error) {
	var n int
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, reachLockClass, ws.String()+"/"+phoneNumberID)
	b.Queue(`
		SELECT count(DISTINCT contact_id) FROM messages
		WHERE workspace_id = $1 AND phone_number_id = $2 AND direction = 'outbound' AND type = 'template'
			AND created_at > $3 AND status <> 'failed'`, ws, phoneNumberID, since).
		QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	return n, r.q.SendBatch(ctx, b).Close()
}
