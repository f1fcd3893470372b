package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/domain"
)

// CampaignRepo stores campaigns, their recipients and the counters their stats are read
// from.
//
// The counters (campaign_counts) hold, per campaign and recipient status, countShards
// shards of a count. Every statement that moves recipients moves the counters in the
// same statement (a data-modifying CTE), by the number of rows it actually changed, so
// the counters equal a count(*) over the recipients at every commit, under any
// concurrency; a read sums at most countShards rows per status instead of counting the
// recipients. Each statement adds to one shard chosen at random, so the status webhooks
// of one campaign, processed concurrently, seldom wait for each other on a counter row.
//
// Deadlocks: a transaction moves counters in one statement at most (a launch's snapshot, a
// batch's skips, a cancel, the results of a webhook batch or of a send), after the other
// row locks it needs, and the statement upserts its rows sorted by (workspace, campaign,
// status). Two transactions therefore take counter rows in one order and never wait for
// each other in a circle.
type CampaignRepo struct{ q Querier }

// NewCampaignRepo returns the repository over q (a pool or a transaction).
func NewCampaignRepo(q Querier) *CampaignRepo { return &CampaignRepo{q: q} }

// countShards is how many rows a count of one status of one campaign is spread over.
const countShards = 8

// addCounts is the statement tail that adds the deltas of the CTE d (workspace_id,
// campaign_id, status, n) to shard $shard of the counters, sorted (see CampaignRepo).
func addCounts(shard string) string {
	return `INSERT INTO campaign_counts (workspace_id, campaign_id, status, shard, n)
		SELECT d.workspace_id, d.campaign_id, d.status, ` + shard + `::smallint, sum(d.n) FROM d
		GROUP BY d.workspace_id, d.campaign_id, d.status HAVING sum(d.n) <> 0
		ORDER BY d.workspace_id, d.campaign_id, d.status
		ON CONFLICT (workspace_id, campaign_id, status, shard) DO UPDATE SET n = campaign_counts.n + EXCLUDED.n`
}

func randomShard() int { return rand.IntN(countShards) }

// campaignColumns read a campaign with its counts (a JSON object of status: sum).
const campaignColumns = `c.workspace_id, c.id, c.name, c.phone_number_id, c.template_name, c.template_language,
	c.template_components, c.audience, c.status, coalesce(c.pause_reason, ''), c.scheduled_at, c.started_at,
	c.completed_at, c.snapshot_at, c.created_by, c.created_at, c.updated_at, c.split, c.estimated_cost_currency,
	c.estimated_cost_micros, (SELECT coalesce(jsonb_object_agg(k.status, k.n), '{}') FROM (
		SELECT status, sum(n) AS n FROM campaign_counts k WHERE k.workspace_id = c.workspace_id AND k.campaign_id = c.id
		GROUP BY status) k)`

// campaignsLive are the campaigns of workspaces that are not deleted.
const campaignsLive = `campaigns c JOIN workspaces w ON w.id = c.workspace_id AND w.deleted_at IS NULL`

// audienceDoc is how an audience is stored (jsonb).
type audienceDoc struct {
	All        bool        `json:"all,omitempty"`
	Tags       []string    `json:"tags,omitempty"`
	ContactIDs []domain.ID `json:"contact_ids,omitempty"`
}

func scanCampaign(row pgx.CollectableRow) (domain.Campaign, error) {
	var c domain.Campaign
	var comps, aud, counts []byte
	var status, reason string
	var costCurrency *string
	var costMicros *int64
	err := row.Scan(&c.WorkspaceID, &c.ID, &c.Name, &c.PhoneNumberID, &c.Template.Name, &c.Template.Language, &comps, &aud,
		&status, &reason, &c.ScheduledAt, &c.StartedAt, &c.CompletedAt, &c.SnapshotAt, &c.CreatedBy, &c.CreatedAt, &c.UpdatedAt, &c.Split, &costCurrency,
		&costMicros, &counts)
	if err != nil {
		return c, err
	}
	c.Status, c.PauseReason = domain.CampaignStatus(status), domain.PauseReason(reason)
	if costCurrency != nil && costMicros != nil {
		c.EstimatedCost = &domain.Money{Currency: *costCurrency, Micros: *costMicros}
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	for _, t := range []**time.Time{&c.ScheduledAt, &c.StartedAt, &c.CompletedAt, &c.SnapshotAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	if s := strings.TrimSpace(string(comps)); s != "" && s != "[]" && s != "null" {
		c.Template.Components = json.RawMessage(comps)
	}
	var a audienceDoc
	if err := json.Unmarshal(aud, &a); err != nil {
		return c, fmt.Errorf("campaign %s audience: %w", c.ID, err)
	}
	c.Audience = domain.Audience{All: a.All, Tags: a.Tags, ContactIDs: a.ContactIDs}
	var by map[domain.RecipientStatus]int
	if err := json.Unmarshal(counts, &by); err != nil {
		return c, fmt.Errorf("campaign %s counts: %w", c.ID, err)
	}
	c.Stats = domain.StatsOf(by)
	return c, nil
}

// Get implements campaigns.Store.
func (r *CampaignRepo) Get(ctx context.Context, ws, id domain.ID) (domain.Campaign, error) {
	return r.get(ctx, ws, id, "")
}

// Lock implements campaigns.Writer.
func (r *CampaignRepo) Lock(ctx context.Context, ws, id domain.ID) (domain.Campaign, error) {
	return r.get(ctx, ws, id, " FOR UPDATE OF c")
}

func (r *CampaignRepo) get(ctx context.Context, ws, id domain.ID, lock string) (domain.Campaign, error) {
	rows, err := r.q.Query(ctx, `SELECT `+campaignColumns+` FROM `+campaignsLive+` WHERE c.workspace_id = $1 AND c.id = $2`+lock, ws, id)
	if err != nil {
		return domain.Campaign{}, err
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanCampaign)
	return c, notFound(err, "campaign")
}

// List implements campaigns.Store.
func (r *CampaignRepo) List(ctx context.Context, ws domain.ID, f campaigns.Filter, n int) ([]domain.Campaign, error) {
	w := &where{}
	w.add("c.workspace_id = $?", ws)
	if f.Status != "" {
		w.add("c.status = $?", string(f.Status))
	}
	w.cursor("c.id < $?", f.Cursor)
	rows, err := r.q.Query(ctx, `SELECT `+campaignColumns+` FROM `+campaignsLive+` WHERE `+w.sql()+` ORDER BY c.id DESC LIMIT `+w.next(),
		append(w.args, n)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanCampaign)
}

// Insert implements campaigns.Writer.
func (r *CampaignRepo) Insert(ctx context.Context, c domain.Campaign) error {
	args, err := campaignArgs(c)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, `
		INSERT INTO campaigns (workspace_id, id, name, phone_number_id, template_name, template_language, template_components,
			audience, status, pause_reason, scheduled_at, started_at, completed_at, snapshot_at, created_by, created_at, updated_at, split)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`, append(args, c.Split)...)
	return err
}

func costCurrency(c domain.Campaign) *string {
	if c.EstimatedCost == nil {
		return nil
	}
	return &c.EstimatedCost.Currency
}

func costMicros(c domain.Campaign) *int64 {
	if c.EstimatedCost == nil {
		return nil
	}
	return &c.EstimatedCost.Micros
}

// Update implements campaigns.Writer.
func (r *CampaignRepo) Update(ctx context.Context, c domain.Campaign) error {
	args, err := campaignArgs(c)
	if err != nil {
		return err
	}
	// Every argument but created_by and created_at, which never change.
	tag, err := r.q.Exec(ctx, `
		UPDATE campaigns SET name = $3, phone_number_id = $4, template_name = $5, template_language = $6,
			template_components = $7, audience = $8, status = $9, pause_reason = $10, scheduled_at = $11, started_at = $12,
			completed_at = $13, snapshot_at = $14, updated_at = $15, split = $16, estimated_cost_currency = $17,
			estimated_cost_micros = $18
		WHERE workspace_id = $1 AND id = $2`, append(args[:14:14], c.UpdatedAt, c.Split, costCurrency(c), costMicros(c))...)
	if err == nil && tag.RowsAffected() == 0 {
		return domain.NotFound("campaign")
	}
	return err
}

func campaignArgs(c domain.Campaign) ([]any, error) {
	comps := c.Template.Components
	if len(comps) == 0 {
		comps = json.RawMessage(`[]`)
	}
	aud, err := json.Marshal(audienceDoc{All: c.Audience.All, Tags: c.Audience.Tags, ContactIDs: c.Audience.ContactIDs})
	if err != nil {
		return nil, err
	}
	var reason *string
	if c.PauseReason != "" {
		s := string(c.PauseReason)
		reason = &s
	}
	return []any{c.WorkspaceID, c.ID, cleanText(c.Name), c.PhoneNumberID, cleanText(c.Template.Name), c.Template.Language,
		sanitizeJSONB(comps), aud, string(c.Status), reason, c.ScheduledAt, c.StartedAt, c.CompletedAt, c.SnapshotAt,
		c.CreatedBy, c.CreatedAt, c.UpdatedAt}, nil
}

// audienceContacts is the query of the columns cols of the workspace's ($1) contacts an
// audience names: the UNION of its parts, each served by its index (the tags' GIN index,
// the primary key for ids), with its arguments appended to args; "" when it names nobody.
func audienceContacts(a domain.Audience, cols string, args []any) (string, []any) {
	var parts []string
	if a.All {
		parts = append(parts, `SELECT `+cols+` FROM contacts WHERE workspace_id = $1`)
	} else {
		if len(a.Tags) > 0 {
			args = append(args, a.Tags)
			parts = append(parts, `SELECT `+cols+` FROM contacts WHERE workspace_id = $1 AND tags && $`+strconv.Itoa(len(args))+`::text[]`)
		}
		if len(a.ContactIDs) > 0 {
			args = append(args, a.ContactIDs)
			parts = append(parts, `SELECT `+cols+` FROM contacts WHERE workspace_id = $1 AND id = ANY ($`+strconv.Itoa(len(args))+`::uuid[])`)
		}
	}
	return strings.Join(parts, ` UNION `), args
}

// Snapshot implements campaigns.Writer: one INSERT ... SELECT from the contacts the
// audience names (audienceContacts), with the pending counter in the same statement. A contact
// already a recipient is kept once.
func (r *CampaignRepo) Snapshot(ctx context.Context, c domain.Campaign, at time.Time) (int, error) {
	named, args := audienceContacts(c.Audience, "id", []any{c.WorkspaceID, c.ID, at})
	if named == "" {
		return 0, nil
	}
	var n int
	err := r.q.QueryRow(ctx, `
		WITH a AS (`+named+`),
		ins AS (
			INSERT INTO campaign_recipients (workspace_id, campaign_id, contact_id, status, updated_at)
			SELECT $1, $2, a.id, 'pending', $3 FROM a
			ON CONFLICT DO NOTHING
			RETURNING 1),
		d AS (SELECT $1::uuid AS workspace_id, $2::uuid AS campaign_id, 'pending' AS status, count(*) AS n FROM ins),
		k AS (`+addCounts("0")+`)
		SELECT n FROM d`, args...).Scan(&n)
	return n, err
}

// Next implements campaigns.Batches in two round trips: the recipients (the due retries
// and the pending ones, each through its partial index), then their contacts (locked, for a
// marketing batch, before what the caps weigh is read).
func (r *CampaignRepo) Next(ctx context.Context, ws, campaignID domain.ID, n int, now time.Time, marketingSince *time.Time) (campaigns.Batch, error) {
	var out campaigns.Batch
	// The pending ones are read from the campaign's pending_from on, which then moves up to
	// the first of them: every recipient below it was taken, and their dead entries in the
	// pending index are not walked again at each batch. Under the campaign's lock nothing
	// else takes or adds pending recipients.
	rows, err := r.q.Query(ctx, `
		WITH p AS (
			SELECT contact_id FROM campaign_recipients
			WHERE workspace_id = $1 AND campaign_id = $2 AND status = 'pending' AND message_id IS NULL
				AND contact_id >= coalesce((SELECT pending_from FROM campaigns WHERE workspace_id = $1 AND id = $2), '00000000-0000-0000-0000-000000000000')
			ORDER BY contact_id LIMIT $3),
		first AS (SELECT contact_id FROM p ORDER BY contact_id LIMIT 1),
		moved AS (
			UPDATE campaigns c SET pending_from = first.contact_id FROM first
			WHERE c.workspace_id = $1 AND c.id = $2 AND c.pending_from IS DISTINCT FROM first.contact_id)
		(SELECT contact_id FROM campaign_recipients
		WHERE workspace_id = $1 AND campaign_id = $2 AND status = 'retry_scheduled' AND next_attempt_at <= $4
		ORDER BY next_attempt_at LIMIT $3)
		UNION ALL
		(SELECT contact_id FROM p ORDER BY contact_id)
		LIMIT $3`, ws, campaignID, n, now)
	if err != nil {
		return out, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[domain.ID])
	if err != nil || len(ids) == 0 {
		return out, err
	}
	lock := ""
	if marketingSince != nil {
		// As LockMarketing's lock, parallel marketing sends to a contact take turns. NO KEY: a send that is not marketing only checks the contact as its message's
		// and conversation's foreign key (FOR KEY SHARE), which FOR UPDATE would block; then
		// it and this batch, each about to insert the other's conversation, could deadlock.
		lock = " FOR NO KEY UPDATE"
	}
	contacts := map[domain.ID]*domain.Contact{}
	holds := map[domain.ID]time.Time{}
	sent := map[domain.ID][]time.Time{}
	// Every statement goes through the batch's ids, an index probe each (a LATERAL
	// subquery with a LIMIT is never flattened into a join the planner may hash): a
	// workspace's contacts or messages are never scanned for a batch, whatever the
	// planner thinks of their size. The contacts are read, and locked, in the array's
	// order: sorted, as the locks of every batch are taken (uuid order is byte order).
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b domain.ID) int { return bytes.Compare(a[:], b[:]) })
	b := &pgx.Batch{}
	b.Queue(`SELECT `+contactColumns+`, marketing_hold_until FROM unnest($2::uuid[]) AS k (key)
		CROSS JOIN LATERAL (SELECT * FROM contacts WHERE workspace_id = $1 AND id = k.key LIMIT 1`+lock+`) c`, ws, sorted).
		Query(func(rows pgx.Rows) error {
			var hold *time.Time
			list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Contact, error) {
				c, err := scanContactInto(row, &hold)
				if err == nil && hold != nil && marketingSince != nil {
					holds[c.ID] = *hold
				}
				return c, err
			})
			for i := range list {
				contacts[list[i].ID] = &list[i]
			}
			return err
		})
	if marketingSince != nil {
		b.Queue(`SELECT k.key, m.created_at FROM unnest($2::uuid[]) AS k (key)
			CROSS JOIN LATERAL (SELECT created_at FROM messages
				WHERE workspace_id = $1 AND contact_id = k.key AND direction = 'outbound' AND category = 'MARKETING'
					AND status <> 'failed' AND created_at > $3 OFFSET 0) m`, ws, ids, *marketingSince).Query(func(rows pgx.Rows) error {
			var id domain.ID
			var at time.Time
			_, err := pgx.ForEachRow(rows, []any{&id, &at}, func() error { sent[id] = append(sent[id], at); return nil })
			return err
		})
		b.Queue(`SELECT marketing_per_contact_per_day, marketing_per_contact_per_week FROM workspaces WHERE id = $1`, ws).
			QueryRow(func(row pgx.Row) error {
				return row.Scan(&out.Caps.MarketingPerContactPerDay, &out.Caps.MarketingPerContactPerWeek)
			})
	}
	if err := r.q.SendBatch(ctx, b).Close(); err != nil {
		return out, err
	}
	out.Candidates = make([]campaigns.Candidate, len(ids))
	for i, id := range ids {
		out.Candidates[i] = campaigns.Candidate{ContactID: id, Contact: contacts[id],
			Marketing: domain.MarketingHistory{Sent: sent[id], HoldUntil: holds[id]}}
	}
	return out, nil
}

// Record implements campaigns.Batches: the queued recipients get their messages, the
// skipped ones their reasons (and the counters move), in one round trip.
func (r *CampaignRepo) Record(ctx context.Context, ws, campaignID domain.ID, queued []campaigns.Queued, skipped []campaigns.Skipped, at time.Time) error {
	b := &pgx.Batch{}
	if len(queued) > 0 {
		contacts, messages := make([]domain.ID, len(queued)), make([]domain.ID, len(queued))
		for i, q := range queued {
			contacts[i], messages[i] = q.ContactID, q.MessageID
		}
		b.Queue(take(`SELECT r.ctid, r.contact_id, r.status, q.message_id FROM unnest($4::uuid[], $5::uuid[]) AS q (contact_id, message_id)
				CROSS JOIN LATERAL (`+recipientOf("q")+`) r`,
			`status = 'pending', message_id = o.message_id, attempts = r.attempts + 1, next_attempt_at = NULL,
				first_attempt_at = coalesce(r.first_attempt_at, $3), updated_at = $3`, "$6"),
			ws, campaignID, at, contacts, messages, randomShard()).
			QueryRow(func(row pgx.Row) error { return scanExactly(row, len(queued), "queued") })
	}
	if len(skipped) > 0 {
		contacts, reasons := make([]domain.ID, len(skipped)), make([]string, len(skipped))
		for i, s := range skipped {
			contacts[i], reasons[i] = s.ContactID, s.Reason
		}
		b.Queue(take(`SELECT r.ctid, r.contact_id, r.status, q.reason FROM unnest($4::uuid[], $5::text[]) AS q (contact_id, reason)
				CROSS JOIN LATERAL (`+recipientOf("q")+`) r`,
			`status = 'skipped', reason = o.reason, next_attempt_at = NULL, updated_at = $3`, "$6"),
			ws, campaignID, at, contacts, reasons, randomShard()).
			QueryRow(func(row pgx.Row) error { return scanExactly(row, len(skipped), "skipped") })
	}
	if b.Len() == 0 {
		return nil
	}
	return r.q.SendBatch(ctx, b).Close()
}

// batchable is what a recipient r is when a batch may take it: pending without a message,
// or waiting for its retry.
const batchable = `(r.status = 'pending' AND r.message_id IS NULL OR r.status = 'retry_scheduled')`

// recipientOf is the subquery of the campaign's ($1, $2) recipient (its ctid, contact and
// status) whose contact is q.contact_id, when batchable: a primary key probe for each of
// the batch's contacts (a LATERAL subquery with a LIMIT is never flattened into a join the
// planner may hash, reading the campaign's recipients whole for a batch of a few hundred).
func recipientOf(q string) string {
	return `SELECT r.ctid, r.contact_id, r.status FROM campaign_recipients r
		WHERE r.workspace_id = $1 AND r.campaign_id = $2 AND r.contact_id = ` + q + `.contact_id AND ` + batchable + ` LIMIT 1`
}

// take is the statement that moves the campaign's ($1, $2) recipients the CTE o names (its
// ctid, contact_id, its status and what set reads) with set, moves the counters by what it
// moved (on shard), and counts them. Under the campaign's lock nothing else moves a
// batchable recipient, so o's statuses are the ones the update changes. o is read once
// and the update takes exactly its rows, by ctid (a TID scan). Joined by contact instead,
// while the statistics did not know the campaign (a launch's first batches, until
// ANALYZE), the planner walked the campaign's recipients once for each row updated: 15
// million index probes, 30 s of CPU, for the first batch of a 100,000-recipient campaign,
// and some n²/2 rows read by a cancel.
func take(o, set, shard string) string {
	return `WITH o AS MATERIALIZED (` + o + `),
		up AS (
			UPDATE campaign_recipients r SET ` + set + `
			FROM o WHERE r.ctid = ANY(ARRAY(SELECT ctid FROM o)) AND r.ctid = o.ctid
			RETURNING r.workspace_id, r.campaign_id, o.status AS from_status, r.status AS to_status),
		` + movedCounts + `,
		k AS (` + addCounts(shard) + `)
		SELECT count(*) FROM up`
}

// movedCounts is the CTE d of the counter deltas of the CTE up, the moved recipients'
// workspace_id, campaign_id, from_status and to_status (a move within a status nets out).
const movedCounts = `d AS (
	SELECT workspace_id, campaign_id, from_status AS status, -1 AS n FROM up
	UNION ALL SELECT workspace_id, campaign_id, to_status, 1 FROM up)`

// scanExactly fails when a batch's write did not change every recipient it names: under
// the campaign's lock nothing else moves the recipients a batch took, so it would be a
// bug, and the transaction must not commit half of it.
func scanExactly(row pgx.Row, want int, what string) error {
	var got int
	if err := row.Scan(&got); err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("campaign batch: %d of %d %s recipients were pending or waiting for a retry", got, want, what)
	}
	return nil
}

// SkipPending implements campaigns.Batches.
func (r *CampaignRepo) SkipPending(ctx context.Context, ws, campaignID domain.ID, reason string, at time.Time) (int, error) {
	var n int
	err := r.q.QueryRow(ctx, take(`SELECT r.ctid, r.contact_id, r.status FROM campaign_recipients r
			WHERE r.workspace_id = $1 AND r.campaign_id = $2 AND `+batchable,
		`status = 'skipped', reason = $3, next_attempt_at = NULL, updated_at = $4`, "$5"),
		ws, campaignID, reason, at, randomShard()).Scan(&n)
	return n, err
}

// Counts implements campaigns.Batches.
func (r *CampaignRepo) Counts(ctx context.Context, ws, campaignID domain.ID) (map[domain.RecipientStatus]int, error) {
	rows, err := r.q.Query(ctx, `SELECT status, sum(n) FROM campaign_counts WHERE workspace_id = $1 AND campaign_id = $2 GROUP BY status`,
		ws, campaignID)
	if err != nil {
		return nil, err
	}
	out := map[domain.RecipientStatus]int{}
	var status string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error { out[domain.RecipientStatus(status)] = n; return nil })
	return out, err
}

// Track implements campaigns.Progress: the recipients are locked in key order, and read
// with their workspace's campaign_retry_days.
func (r *CampaignRepo) Track(ctx context.Context, ms []domain.Message) ([]campaigns.Tracked, error) {
	var wss, cids, contacts, ids []domain.ID
	for _, m := range ms {
		if m.CampaignID == nil {
			continue
		}
		wss, cids, contacts, ids = append(wss, m.WorkspaceID), append(cids, *m.CampaignID), append(contacts, m.ContactID), append(ids, m.ID)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// A recipient queued before first_attempt_at existed counts its days from its last change.
	rows, err := r.q.Query(ctx, `
		SELECT r.workspace_id, r.campaign_id, r.contact_id, r.message_id, r.status, r.attempts,
			coalesce(r.first_attempt_at, r.updated_at), w.campaign_retry_days
		FROM campaign_recipients r
		JOIN unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[]) AS m (workspace_id, campaign_id, contact_id, id)
			ON r.workspace_id = m.workspace_id AND r.campaign_id = m.campaign_id AND r.contact_id = m.contact_id AND r.message_id = m.id
		JOIN workspaces w ON w.id = r.workspace_id
		ORDER BY r.workspace_id, r.campaign_id, r.contact_id
		FOR UPDATE OF r`, wss, cids, contacts, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (campaigns.Tracked, error) {
		var t campaigns.Tracked
		var status string
		err := row.Scan(&t.WorkspaceID, &t.CampaignID, &t.ContactID, &t.MessageID, &status, &t.Attempts, &t.FirstAttemptAt, &t.RetryDays)
		t.Status = domain.RecipientStatus(status)
		return t, err
	})
}

// Replied implements campaigns.Progress: one statement, through the contacts' index; a
// recipient answered by several of the replies comes once.
func (r *CampaignRepo) Replied(ctx context.Context, replies []campaigns.Reply, window time.Duration) ([]campaigns.Tracked, error) {
	if len(replies) == 0 {
		return nil, nil
	}
	wss, contacts, ats := make([]domain.ID, len(replies)), make([]domain.ID, len(replies)), make([]time.Time, len(replies))
	for i, rp := range replies {
		wss[i], contacts[i], ats[i] = rp.WorkspaceID, rp.ContactID, rp.At
	}
	rows, err := r.q.Query(ctx, `
		SELECT r.workspace_id, r.campaign_id, r.contact_id, r.status
		FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS a (workspace_id, contact_id, at)
		JOIN campaign_recipients r ON r.workspace_id = a.workspace_id AND r.contact_id = a.contact_id
		WHERE r.status IN ('delivered', 'read') AND r.delivered_at <= a.at AND a.at <= r.delivered_at + $4 * interval '1 second'
		ORDER BY r.workspace_id, r.campaign_id, r.contact_id
		FOR UPDATE OF r`, wss, contacts, ats, window.Seconds())
	if err != nil {
		return nil, err
	}
	var out []campaigns.Tracked
	var t campaigns.Tracked
	var status string
	_, err = pgx.ForEachRow(rows, []any{&t.WorkspaceID, &t.CampaignID, &t.ContactID, &status}, func() error {
		t.Status = domain.RecipientStatus(status)
		if n := len(out); n == 0 || out[n-1].WorkspaceID != t.WorkspaceID || out[n-1].CampaignID != t.CampaignID ||
			out[n-1].ContactID != t.ContactID {
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// Advance implements campaigns.Progress: one statement moves the recipients still at
// their From and the counters by what it moved. A recipient whose retry is scheduled
// loses its message (a late status of it finds nothing); one whose new attempt reached
// Meta loses the error of the last.
func (r *CampaignRepo) Advance(ctx context.Context, changes []campaigns.Change, at time.Time) error {
	if len(changes) == 0 {
		return nil
	}
	n := len(changes)
	wss, cids, contacts := make([]domain.ID, n), make([]domain.ID, n), make([]domain.ID, n)
	froms, tos := make([]string, n), make([]string, n)
	codes, titles := make([]*int, n), make([]*string, n)
	nexts, delivered := make([]*time.Time, n), make([]*time.Time, n)
	for i, ch := range changes {
		wss[i], cids[i], contacts[i], froms[i], tos[i] = ch.WorkspaceID, ch.CampaignID, ch.ContactID, string(ch.From), string(ch.To)
		if ch.Error != nil {
			codes[i], titles[i] = errorColumnsCode(ch.Error), &ch.Error.Title
		}
		nexts[i], delivered[i] = ch.NextAttemptAt, ch.DeliveredAt
	}
	_, err := r.q.Exec(ctx, `
		WITH ch AS (
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::text[],
				$10::timestamptz[], $11::timestamptz[])
				AS ch (workspace_id, campaign_id, contact_id, from_status, to_status, code, title, next_attempt_at, delivered_at)),
		up AS (
			UPDATE campaign_recipients r SET status = ch.to_status,
				error_code = CASE WHEN ch.to_status IN ('failed', 'retry_scheduled') THEN ch.code
					WHEN ch.from_status = 'pending' THEN NULL ELSE r.error_code END,
				error_title = CASE WHEN ch.to_status IN ('failed', 'retry_scheduled') THEN ch.title
					WHEN ch.from_status = 'pending' THEN NULL ELSE r.error_title END,
				message_id = CASE WHEN ch.to_status = 'retry_scheduled' THEN NULL ELSE r.message_id END,
				next_attempt_at = ch.next_attempt_at,
				delivered_at = coalesce(r.delivered_at, ch.delivered_at),
				updated_at = $8
			FROM ch
			WHERE r.workspace_id = ch.workspace_id AND r.campaign_id = ch.campaign_id AND r.contact_id = ch.contact_id
				AND r.status = ch.from_status
			RETURNING r.workspace_id, r.campaign_id, ch.from_status, ch.to_status),
		`+movedCounts+`
		`+addCounts("$9"), wss, cids, contacts, froms, tos, codes, titles, at, randomShard(), nexts, delivered)
	return err
}

// errorColumnsCode is e's code, NULL when Meta gave none.
func errorColumnsCode(e *domain.MessageError) *int {
	code, _, _ := errorColumns(e)
	return code
}

// Recipients implements campaigns.Store: with the contact's phone and name as they are now.
func (r *CampaignRepo) Recipients(ctx context.Context, ws, campaignID domain.ID, f campaigns.RecipientFilter, n int) ([]domain.Recipient, error) {
	w := &where{}
	w.add("r.workspace_id = $?", ws)
	w.add("r.campaign_id = $?", campaignID)
	if f.Status != "" {
		w.add("r.status = $?", string(f.Status))
	}
	w.cursor("r.contact_id < $?", f.Cursor)
	rows, err := r.q.Query(ctx, `
		SELECT r.workspace_id, r.campaign_id, r.contact_id, coalesce(c.phone, ''), coalesce(c.name, ''), r.status, coalesce(r.reason, ''), r.message_id,
			r.error_code, coalesce(r.error_title, ''), r.attempts, r.next_attempt_at, r.updated_at
		FROM campaign_recipients r LEFT JOIN contacts c ON c.workspace_id = r.workspace_id AND c.id = r.contact_id
		WHERE `+w.sql()+` ORDER BY r.contact_id DESC LIMIT `+w.next(), append(w.args, n)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Recipient, error) {
		var rc domain.Recipient
		var status, title string
		var code *int
		err := row.Scan(&rc.WorkspaceID, &rc.CampaignID, &rc.ContactID, &rc.Phone, &rc.Name, &status, &rc.Reason, &rc.MessageID,
			&code, &title, &rc.Attempts, &rc.NextAttemptAt, &rc.UpdatedAt)
		rc.Status = domain.RecipientStatus(status)
		if code != nil || title != "" {
			rc.Error = &domain.MessageError{Title: title}
			if code != nil {
				rc.Error.Code = *code
			}
		}
		return rc, err
	})
}

// Due implements campaigns.Store.
func (r *CampaignRepo) Due(ctx context.Context, now time.Time, n int) ([]campaigns.Ref, error) {
	return r.refs(ctx, `c.status = 'scheduled' AND c.scheduled_at <= $1 ORDER BY c.scheduled_at LIMIT $2`, now, n)
}

// Running implements campaigns.Store.
func (r *CampaignRepo) Running(ctx context.Context, n int) ([]campaigns.Ref, error) {
	return r.refs(ctx, `c.status = 'running' LIMIT $1`, n)
}

// Sending implements campaigns.Store (through the workspace's status index; a workspace
// has few campaigns scheduled or running).
func (r *CampaignRepo) Sending(ctx context.Context, ws domain.ID, name, language string) ([]campaigns.Ref, error) {
	return r.refs(ctx, `c.workspace_id = $1 AND c.status IN ('scheduled', 'running')
		AND c.template_name = $2 AND c.template_language = $3`, ws, name, language)
}

// OptedOut implements campaigns.Store: one statement; a recipient already marked is not
// counted again (a contact is a campaign's recipient once).
func (r *CampaignRepo) OptedOut(ctx context.Context, ws, contactID domain.ID, at time.Time) ([]campaigns.OptOuts, error) {
	rows, err := r.q.Query(ctx, `
		WITH marked AS (
			UPDATE campaign_recipients r SET opted_out_at = $3
			FROM campaigns c
			WHERE r.workspace_id = $1 AND r.contact_id = $2 AND r.opted_out_at IS NULL
				AND r.status IN ('sent', 'delivered', 'read', 'replied')
				AND c.workspace_id = r.workspace_id AND c.id = r.campaign_id AND c.status = 'running'
			RETURNING r.workspace_id, r.campaign_id)
		UPDATE campaigns c SET opt_outs = c.opt_outs + 1 FROM marked m
		WHERE c.workspace_id = m.workspace_id AND c.id = m.campaign_id
		RETURNING c.workspace_id, c.id, c.opt_outs`, ws, contactID, at)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (campaigns.OptOuts, error) {
		var o campaigns.OptOuts
		err := row.Scan(&o.WorkspaceID, &o.ID, &o.OptOuts)
		return o, err
	})
}

func (r *CampaignRepo) refs(ctx context.Context, cond string, args ...any) ([]campaigns.Ref, error) {
	rows, err := r.q.Query(ctx, `SELECT c.workspace_id, c.id FROM `+campaignsLive+` WHERE `+cond, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (campaigns.Ref, error) {
		var ref campaigns.Ref
		err := row.Scan(&ref.WorkspaceID, &ref.ID)
		return ref, err
	})
}
