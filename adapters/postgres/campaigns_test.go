package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/domain"
)

var (
	_ campaigns.Store    = (*postgres.CampaignRepo)(nil)
	_ campaigns.Writer   = (*postgres.CampaignRepo)(nil)
	_ campaigns.Batches  = (*postgres.CampaignRepo)(nil)
	_ campaigns.Progress = (*postgres.CampaignRepo)(nil)
	_ campaigns.Outbox   = (*postgres.MessageRepo)(nil)
	_ campaigns.Importer = (*postgres.ContactRepo)(nil)
	_ campaigns.TxRunner = (*postgres.TxRunner[campaigns.Repos])(nil)
)

// campaignBundle is a workspace with contacts, for the campaign store's tests.
type campaignBundle struct {
	pool *pgxpool.Pool
	repo *postgres.CampaignRepo
	ws   domain.ID
	ins  *riveradapter.Inserter
	// jobs, when set, replaces the River enqueuer of the transactions (to make one fail).
	jobs func(tx pgx.Tx) campaigns.Jobs
}

func setupCampaigns(t *testing.T) *campaignBundle {
	t.Helper()
	pool := pgtest.NewPool(t)
	ins, err := riveradapter.NewInserter()
	require.NoError(t, err)
	return &campaignBundle{pool: pool, repo: postgres.NewCampaignRepo(pool), ins: ins,
		ws: createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Acme").ID}
}

func (b *campaignBundle) tx() *postgres.TxRunner[campaigns.Repos] {
	return postgres.NewTxRunner(b.pool, func(tx pgx.Tx) campaigns.Repos {
		repo := postgres.NewCampaignRepo(tx)
		var jobs campaigns.Jobs = b.ins.Bind(tx)
		if b.jobs != nil {
			jobs = b.jobs(tx)
		}
		return campaigns.Repos{Campaigns: repo, Contacts: postgres.NewContactRepo(tx), Batches: repo, Progress: repo,
			Outbox: postgres.NewMessageRepo(tx), Jobs: jobs, Events: postgres.NewEventLog(tx), Reach: repo}
	})
}

// contact inserts a contact of ws with tags.
func (b *campaignBundle) contact(t *testing.T, ws domain.ID, name string, tags ...string) domain.ID {
	t.Helper()
	id := domain.NewID()
	n := contactSeq.Add(1)
	if tags == nil {
		tags = []string{}
	}
	_, err := b.pool.Exec(context.Background(), `INSERT INTO contacts (workspace_id, id, phone, wa_id, name, tags, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, now(), now())`, ws, id, fmt.Sprintf("+1415%07d", n), fmt.Sprintf("1415%07d", n), name, tags)
	require.NoError(t, err)
	return id
}

func (b *campaignBundle) campaign(t *testing.T, status domain.CampaignStatus, a domain.Audience) domain.Campaign {
	t.Helper()
	at := now()
	c := domain.Campaign{ID: domain.NewID(), WorkspaceID: b.ws, Name: "Spring", PhoneNumberID: "1065",
		Template:  domain.CampaignTemplate{Name: "hello", Language: "en_US", Components: json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"{{contact.name|friend}}"}]}]`)},
		Audience:  a,
		Status:    status,
		CreatedAt: at, UpdatedAt: at}
	require.NoError(t, b.repo.Insert(context.Background(), c))
	return c
}

// recipientCounts counts the recipients by status (what the counters must equal).
func (b *campaignBundle) recipientCounts(t *testing.T, campaignID domain.ID) map[domain.RecipientStatus]int {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT status, count(*) FROM campaign_recipients
		WHERE workspace_id = $1 AND campaign_id = $2 GROUP BY status`, b.ws, campaignID)
	require.NoError(t, err)
	out := map[domain.RecipientStatus]int{}
	var s string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&s, &n}, func() error { out[domain.RecipientStatus(s)] = n; return nil })
	require.NoError(t, err)
	return out
}

func (b *campaignBundle) counters(t *testing.T, campaignID domain.ID) map[domain.RecipientStatus]int {
	t.Helper()
	got, err := b.repo.Counts(context.Background(), b.ws, campaignID)
	require.NoError(t, err)
	for s, n := range got {
		if n == 0 {
			delete(got, s)
		}
	}
	return got
}

func TestCampaignStoreRoundTrip(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	other := createWorkspace(t, postgres.NewWorkspaceRepo(b.pool), "Other").ID
	user := createUser(t, postgres.NewWorkspaceRepo(b.pool), "maker-"+domain.NewID().String()+"@example.com").ID

	at := now()
	when := at.Add(time.Hour)
	c := domain.Campaign{ID: domain.NewID(), WorkspaceID: b.ws, Name: "Summer", PhoneNumberID: "1065",
		Template:  domain.CampaignTemplate{Name: "summer_sale", Language: "en_US", Components: json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"{{contact.name}}"}]}]`)},
		Audience:  domain.Audience{Tags: []string{"vip"}, ContactIDs: []domain.ID{domain.NewID()}},
		Status:    domain.CampaignScheduled,
		CreatedBy: &user, ScheduledAt: &when, CreatedAt: at, UpdatedAt: at}
	require.NoError(t, b.repo.Insert(ctx, c))
	got, err := b.repo.Get(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.JSONEq(t, string(c.Template.Components), string(got.Template.Components))
	got.Template.Components = c.Template.Components
	require.Equal(t, c, got)

	_, err = b.repo.Get(ctx, other, c.ID)
	require.True(t, domain.IsKind(err, domain.KindNotFound), "another workspace's campaign is not found: %v", err)

	// Every mutable field is written; the creator and creation time stay.
	c.Name, c.Status, c.PauseReason, c.Audience = "Summer 2", domain.CampaignPaused, domain.PauseManual, domain.Audience{All: true}
	c.Template.Components, c.StartedAt, c.SnapshotAt, c.UpdatedAt = nil, &at, &at, at.Add(time.Minute)
	require.NoError(t, b.repo.Update(ctx, c))
	got, err = b.repo.Get(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, c, got)
	c.ID = domain.NewID()
	require.True(t, domain.IsKind(b.repo.Update(ctx, c), domain.KindNotFound))

	// Lists: newest first, by status, in pages.
	var ids []domain.ID
	for i := range 5 {
		status := domain.CampaignDraft
		if i%2 == 1 {
			status = domain.CampaignRunning
		}
		ids = append(ids, b.campaign(t, status, domain.Audience{All: true}).ID)
	}
	running, err := b.repo.List(ctx, b.ws, campaigns.Filter{Status: domain.CampaignRunning}, 10)
	require.NoError(t, err)
	require.Equal(t, []domain.ID{ids[3], ids[1]}, []domain.ID{running[0].ID, running[1].ID})
	require.Len(t, running, 2)
	seen := walkIDs(t, func(cursor domain.ID, limit int) ([]domain.Campaign, error) {
		return b.repo.List(ctx, b.ws, campaigns.Filter{Status: domain.CampaignDraft, Cursor: cursor}, limit)
	}, func(c domain.Campaign) domain.ID { return c.ID }, func(c domain.Campaign) { require.Equal(t, domain.CampaignDraft, c.Status) })
	require.Equal(t, []domain.ID{ids[4], ids[2], ids[0]}, seen)

	refs, err := b.repo.Running(ctx, 10)
	require.NoError(t, err)
	require.ElementsMatch(t, []campaigns.Ref{{WorkspaceID: b.ws, ID: ids[1]}, {WorkspaceID: b.ws, ID: ids[3]}}, refs)
}

func TestCampaignDueFindsScheduledCampaignsWhoseTimeCame(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	at := now()
	schedule := func(in time.Duration, status domain.CampaignStatus) domain.ID {
		c := b.campaign(t, status, domain.Audience{All: true})
		when := at.Add(in)
		c.ScheduledAt = &when
		require.NoError(t, b.repo.Update(ctx, c))
		return c.ID
	}
	due := schedule(-time.Minute, domain.CampaignScheduled)
	schedule(time.Minute, domain.CampaignScheduled)  // not yet
	schedule(-time.Minute, domain.CampaignPaused)    // not scheduled any more
	exactly := schedule(0, domain.CampaignScheduled) // its very time
	refs, err := b.repo.Due(ctx, at, 10)
	require.NoError(t, err)
	require.Equal(t, []campaigns.Ref{{WorkspaceID: b.ws, ID: due}, {WorkspaceID: b.ws, ID: exactly}}, refs)

	// A deleted workspace's campaigns start nowhere.
	_, err = b.pool.Exec(ctx, `UPDATE workspaces SET deleted_at = now() WHERE id = $1`, b.ws)
	require.NoError(t, err)
	refs, err = b.repo.Due(ctx, at, 10)
	require.NoError(t, err)
	require.Empty(t, refs)
}

func TestCampaignSnapshotTakesTheAudienceOnce(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	vip := b.contact(t, b.ws, "Ana", "vip")
	both := b.contact(t, b.ws, "Bo", "vip", "b2b")
	named := b.contact(t, b.ws, "Cy", "b2b")
	b.contact(t, b.ws, "Di")
	other := createWorkspace(t, postgres.NewWorkspaceRepo(b.pool), "Other").ID
	stranger := b.contact(t, other, "Ed", "vip") // another workspace's, even by id

	// Tags and ids, a contact named both ways once, another workspace's never.
	c := b.campaign(t, domain.CampaignRunning, domain.Audience{Tags: []string{"vip"}, ContactIDs: []domain.ID{named, both, stranger}})
	n, err := b.repo.Snapshot(ctx, c, now())
	require.NoError(t, err)
	require.Equal(t, 3, n)
	rs, err := b.repo.Recipients(ctx, b.ws, c.ID, campaigns.RecipientFilter{}, 10)
	require.NoError(t, err)
	var got []domain.ID
	for _, r := range rs {
		require.Equal(t, domain.RecipientPending, r.Status)
		require.NotEmpty(t, r.Phone)
		require.Nil(t, r.MessageID)
		got = append(got, r.ContactID)
	}
	require.ElementsMatch(t, []domain.ID{vip, both, named}, got)
	require.Equal(t, map[domain.RecipientStatus]int{domain.RecipientPending: 3}, b.counters(t, c.ID))
	cp, err := b.repo.Get(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignStats{Recipients: 3, Pending: 3}, cp.Stats)

	// Taken again, nobody is added twice.
	n, err = b.repo.Snapshot(ctx, c, now())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, map[domain.RecipientStatus]int{domain.RecipientPending: 3}, b.counters(t, c.ID))

	all := b.campaign(t, domain.CampaignRunning, domain.Audience{All: true})
	n, err = b.repo.Snapshot(ctx, all, now())
	require.NoError(t, err)
	require.Equal(t, 4, n)
	nobody := b.campaign(t, domain.CampaignRunning, domain.Audience{Tags: []string{"nobody"}})
	n, err = b.repo.Snapshot(ctx, nobody, now())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, b.counters(t, nobody.ID))
}

// campaignWorld is what the send job reads outside the store: one connected number whose
// throughput is a batch, an approved template, and a quota that grants perCall a batch.
type campaignWorld struct {
	number   domain.PhoneNumber
	template domain.Template
	perCall  int
}

func (w *campaignWorld) List(context.Context, domain.ID) ([]domain.PhoneNumber, error) {
	return []domain.PhoneNumber{w.number}, nil
}
func (w *campaignWorld) Template(_ context.Context, _ domain.ID, _, name, language string) (domain.Template, error) {
	if name != w.template.Name || language != w.template.Language {
		return domain.Template{}, domain.NotFound("template")
	}
	return w.template, nil
}
func (w *campaignWorld) TakeUpTo(_ context.Context, _ string, _, _, n int) (int, time.Time, error) {
	return min(n, w.perCall), time.Now().Add(time.Minute), nil
}

// failingJobs fails EnqueueSends once fail is set (a crash before the commit).
type failingJobs struct {
	campaigns.Jobs
	fail *atomic.Bool
}

func (j failingJobs) EnqueueSends(ctx context.Context, ws domain.ID, ids []domain.ID, priority int) error {
	if j.fail.Load() {
		return errors.New("crash")
	}
	return j.Jobs.EnqueueSends(ctx, ws, ids, priority)
}

// A recipient gets one message whatever happens: a batch that fails before its commit
// leaves no message and no recipient marked; batches run concurrently (two workers of
// one job cannot, but the test is harder than that) never take one recipient twice; and
// each message has one send job.
func TestCampaignBatchesQueueEachRecipientExactlyOnce(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	var fail atomic.Bool
	b.jobs = func(tx pgx.Tx) campaigns.Jobs { return failingJobs{Jobs: b.ins.Bind(tx), fail: &fail} }
	const n = 57
	var all []domain.ID
	for i := range n {
		all = append(all, b.contact(t, b.ws, fmt.Sprintf("Kim %d", i), "spring"))
	}
	optedOut := all[3]
	_, err := b.pool.Exec(ctx, `UPDATE contacts SET opted_out = true WHERE id = $1`, optedOut)
	require.NoError(t, err)
	nameless := all[4]
	_, err = b.pool.Exec(ctx, `UPDATE contacts SET name = '' WHERE id = $1`, nameless)
	require.NoError(t, err)

	world := &campaignWorld{number: domain.PhoneNumber{WorkspaceID: b.ws, PhoneNumberID: "1065", WABAID: "waba", Status: domain.NumberConnected},
		template: domain.Template{Name: "hello", Language: "en_US", Category: domain.CategoryUtility, Status: domain.TemplateApproved,
			Components: []domain.TemplateComponent{{Type: "BODY", Text: "Hi {{1}}"}}},
		perCall: 10}
	svc := campaigns.NewService(campaigns.Deps{Tx: b.tx(), Store: b.repo, Numbers: world, Templates: world,
		Workspaces: postgres.NewWorkspaceRepo(b.pool), Quota: world})
	c := b.campaign(t, domain.CampaignRunning, domain.Audience{Tags: []string{"spring"}})
	c.Template.Components = json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"{{contact.name}}"}]}]`)
	require.NoError(t, b.repo.Update(ctx, c))
	_, err = b.repo.Snapshot(ctx, c, now())
	require.NoError(t, err)

	// The crash: nothing of the batch is left.
	fail.Store(true)
	_, err = svc.SendBatch(ctx, b.ws, c.ID)
	require.ErrorContains(t, err, "crash")
	var messages int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE campaign_id = $1`, c.ID).Scan(&messages))
	require.Zero(t, messages)
	require.Equal(t, map[domain.RecipientStatus]int{domain.RecipientPending: n}, b.recipientCounts(t, c.ID))
	fail.Store(false)

	// Four job runs at once, until each finds nothing left to take.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				step, err := svc.SendBatch(ctx, b.ws, c.ID)
				if err != nil {
					errs <- err
					return
				}
				if step.Queued == 0 && step.Skipped == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	var perContact, distinct, jobs int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT contact_id) FROM messages WHERE campaign_id = $1`, c.ID).
		Scan(&perContact, &distinct))
	require.Equal(t, n-2, perContact, "one message per recipient sent to")
	require.Equal(t, n-2, distinct)
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job j JOIN messages m ON m.id = (j.args->>'message_id')::uuid
		WHERE j.kind = 'message.send' AND m.campaign_id = $1 AND j.priority = 4`, c.ID).Scan(&jobs))
	require.Equal(t, n-2, jobs, "one send job per message, at the campaigns' priority")
	var mismatched int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM campaign_recipients r
		LEFT JOIN messages m ON m.workspace_id = r.workspace_id AND m.id = r.message_id
		WHERE r.campaign_id = $1 AND r.status = 'pending'
			AND (m.id IS NULL OR m.contact_id <> r.contact_id OR m.status <> 'queued' OR r.attempts <> 1)`, c.ID).Scan(&mismatched))
	require.Zero(t, mismatched, "every pending recipient has its own queued message")

	// The contact's name is bound into its message.
	var text string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT m.content->'components'->0->'parameters'->0->>'text' FROM messages m
		WHERE m.campaign_id = $1 AND m.contact_id = $2`, c.ID, all[0]).Scan(&text))
	require.Equal(t, "Kim 0", text)

	// The opted-out and the nameless contacts are skipped, with their reasons.
	skipped, err := b.repo.Recipients(ctx, b.ws, c.ID, campaigns.RecipientFilter{Status: domain.RecipientSkipped}, 10)
	require.NoError(t, err)
	reasons := map[domain.ID]string{}
	for _, r := range skipped {
		reasons[r.ContactID] = r.Reason
	}
	require.Equal(t, map[domain.ID]string{optedOut: domain.SkipOptedOut, nameless: domain.SkipMissingField + "contact.name"}, reasons)
	require.Equal(t, b.recipientCounts(t, c.ID), b.counters(t, c.ID))

	// In flight: not complete until every message was sent (or failed).
	step, err := svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.InFlightWait, step.Wait)
	var sent []domain.Message
	rows, err := b.pool.Query(ctx, `SELECT workspace_id, id, contact_id, campaign_id FROM messages WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	var m domain.Message
	_, err = pgx.ForEachRow(rows, []any{&m.WorkspaceID, &m.ID, &m.ContactID, &m.CampaignID}, func() error {
		m.Status = domain.StatusSent
		sent = append(sent, m)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, b.tx().InTx(ctx, func(ctx context.Context, r campaigns.Repos) error {
		return campaigns.ResultsInTx(r.Progress, nil).Advanced(ctx, sent)
	}))
	step, err = svc.SendBatch(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.True(t, step.Done, "%+v", step)
	done, err := b.repo.Get(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignCompleted, done.Status)
	require.NotNil(t, done.CompletedAt)
	require.Equal(t, domain.CampaignStats{Recipients: n, Sent: n - 2, Skipped: 2}, done.Stats)
	var completed int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE kind = 'campaign.completed' AND resource_id = $1`, c.ID.String()).Scan(&completed))
	require.Equal(t, 1, completed)
}

// Each batch reads the pending recipients from the first one still pending on (the
// campaign's pending_from): the ones a batch took are not read again, and the ones it left
// (trimmed by the quota, or its transaction rolled back) are the next batch's first.
func TestCampaignNextStartsAtTheFirstRecipientStillPending(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	var all []domain.ID
	for i := range 7 {
		all = append(all, b.contact(t, b.ws, fmt.Sprintf("Kim %d", i), "spring"))
	}
	slices.SortFunc(all, func(a, b domain.ID) int { return bytes.Compare(a[:], b[:]) })
	c := b.campaign(t, domain.CampaignRunning, domain.Audience{Tags: []string{"spring"}})
	_, err := b.repo.Snapshot(ctx, c, now())
	require.NoError(t, err)

	// batch takes up to n in a transaction, records those take picks as skipped, and
	// commits unless rollback; it returns the ids it read.
	batch := func(n int, take func(ids []domain.ID) []domain.ID, rollback bool) []domain.ID {
		tx, err := b.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		repo := postgres.NewCampaignRepo(tx)
		_, err = repo.Lock(ctx, b.ws, c.ID)
		require.NoError(t, err)
		got, err := repo.Next(ctx, b.ws, c.ID, n, now(), nil)
		require.NoError(t, err)
		var ids []domain.ID
		for _, cand := range got.Candidates {
			ids = append(ids, cand.ContactID)
		}
		var skipped []campaigns.Skipped
		for _, id := range take(ids) {
			skipped = append(skipped, campaigns.Skipped{ContactID: id, Reason: domain.SkipOptedOut})
		}
		require.NoError(t, repo.Record(ctx, b.ws, c.ID, nil, skipped, now()))
		if !rollback {
			require.NoError(t, tx.Commit(ctx))
		}
		return ids
	}
	pendingFrom := func() *domain.ID {
		var at *domain.ID
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT pending_from FROM campaigns WHERE id = $1`, c.ID).Scan(&at))
		return at
	}
	every := func(ids []domain.ID) []domain.ID { return ids }

	require.Nil(t, pendingFrom(), "from the first contact")
	require.Equal(t, all[:3], batch(3, every, false))
	require.Equal(t, &all[0], pendingFrom())
	// The quota trims the batch: the last one it read stays pending.
	require.Equal(t, all[3:6], batch(3, func(ids []domain.ID) []domain.ID { return ids[:2] }, false))
	require.Equal(t, &all[3], pendingFrom())
	// A batch that rolls back leaves it where it was.
	require.Equal(t, all[5:7], batch(3, every, true))
	require.Equal(t, &all[3], pendingFrom())
	require.Equal(t, all[5:7], batch(3, every, false))
	require.Equal(t, &all[5], pendingFrom())
	require.Empty(t, batch(3, every, false))
	require.Equal(t, &all[5], pendingFrom(), "nothing pending: it stays")
	require.Equal(t, map[domain.RecipientStatus]int{domain.RecipientSkipped: 7}, b.recipientCounts(t, c.ID))
}

// A batch updates the recipients it records, and a cancel those it skips, by their row
// while the statistics do not know the campaign yet (a launch's first batches, before
// ANALYZE comes round): joined by contact, the planner, told the campaign had a row or
// two, walked all its recipients once for each recipient updated.
func TestCampaignUpdatesRecipientsByRowBeforeTheStatisticsKnowTheCampaign(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	const n = 3000
	_, err := b.pool.Exec(ctx, `
		INSERT INTO contacts (workspace_id, id, phone, wa_id, name, created_at, updated_at)
		SELECT $1, gen_random_uuid(), '+1650' || lpad(i::text, 7, '0'), '1650' || lpad(i::text, 7, '0'), 'Kim', now(), now()
		FROM generate_series(1, $2) i`, b.ws, n)
	require.NoError(t, err)
	earlier := b.campaign(t, domain.CampaignRunning, domain.Audience{All: true})
	_, err = b.repo.Snapshot(ctx, earlier, now())
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `ANALYZE campaign_recipients`)
	require.NoError(t, err)
	c := b.campaign(t, domain.CampaignRunning, domain.Audience{All: true})
	_, err = b.repo.Snapshot(ctx, c, now())
	require.NoError(t, err)

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	repo := postgres.NewCampaignRepo(tx)
	got, err := repo.Next(ctx, b.ws, c.ID, 50, now(), nil)
	require.NoError(t, err)
	require.Len(t, got.Candidates, 50)
	var queued []campaigns.Queued
	var skipped []campaigns.Skipped
	for i, cand := range got.Candidates {
		if i%2 == 0 {
			skipped = append(skipped, campaigns.Skipped{ContactID: cand.ContactID, Reason: domain.SkipOptedOut})
			continue
		}
		m := domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: cand.ContactID, PhoneNumberID: "1065",
			Direction: domain.Outbound, Type: "template", Content: json.RawMessage(`{"name":"hello","language":{"code":"en_US"}}`),
			Status: domain.StatusQueued, CampaignID: &c.ID, CreatedAt: now()}
		require.NoError(t, postgres.NewMessageRepo(tx).Queue(ctx, m, domain.Occurred(domain.SystemIn(b.ws), now(),
			domain.MessageQueued{MessageID: m.ID, ContactID: m.ContactID, Type: m.Type, PhoneNumberID: m.PhoneNumberID})))
		queued = append(queued, campaigns.Queued{ContactID: cand.ContactID, MessageID: m.ID})
	}
	// The rows this transaction read from the recipients' table, by its own statistics.
	read := func() int64 {
		var rows int64
		require.NoError(t, tx.QueryRow(ctx, `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
			FROM pg_stat_xact_user_tables WHERE relname = 'campaign_recipients'`).Scan(&rows))
		return rows
	}
	before := read()
	require.NoError(t, repo.Record(ctx, b.ws, c.ID, queued, skipped, now()))
	require.Less(t, read()-before, int64(4*50), "the batch's recipients, each read a few times, not the campaign's %d", n)
	// A cancel then skips the rest in one pass, not one pass for each of them.
	before = read()
	skippedAll, err := repo.SkipPending(ctx, b.ws, c.ID, domain.SkipCancelled, now())
	require.NoError(t, err)
	require.Equal(t, n-50, skippedAll)
	require.Less(t, read()-before, int64(2*n), "the campaign's recipients once")
	require.NoError(t, tx.Commit(ctx))
	require.Equal(t, map[domain.RecipientStatus]int{domain.RecipientPending: 25, domain.RecipientSkipped: n - 25}, b.recipientCounts(t, c.ID))
}

// The counters equal a count(*) of the recipients after many concurrent transactions move
// recipients in every order Meta's webhooks may come in (late, repeated, failing, retried
// (131049), answered by the contacts).
func TestCampaignCountersStayExactUnderConcurrentStatuses(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	const n = 120
	for i := range n {
		b.contact(t, b.ws, fmt.Sprintf("Kim %d", i), "all")
	}
	c := b.campaign(t, domain.CampaignRunning, domain.Audience{All: true})
	_, err := b.repo.Snapshot(ctx, c, now())
	require.NoError(t, err)
	// Every recipient has a queued message (as a batch leaves them).
	_, err = b.pool.Exec(ctx, `UPDATE campaign_recipients SET message_id = gen_random_uuid(), attempts = 1 WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	rows, err := b.pool.Query(ctx, `SELECT contact_id, message_id FROM campaign_recipients WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	var msgs []domain.Message
	var contact, id domain.ID
	_, err = pgx.ForEachRow(rows, []any{&contact, &id}, func() error {
		msgs = append(msgs, domain.Message{WorkspaceID: b.ws, ID: id, ContactID: contact, CampaignID: &c.ID})
		return nil
	})
	require.NoError(t, err)

	statuses := []domain.MessageStatus{domain.StatusSent, domain.StatusDelivered, domain.StatusRead, domain.StatusFailed}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 40 {
				// A webhook batch: a few messages' reports, some of them repeated.
				var batch []domain.Message
				var replies []domain.Arrival
				for range 1 + rng.IntN(5) {
					m := msgs[rng.IntN(len(msgs))]
					m.Status = statuses[rng.IntN(len(statuses))]
					if m.Status == domain.StatusFailed {
						m.Error = &domain.MessageError{Code: 131026, Title: "Message undeliverable"}
						if rng.IntN(3) == 0 {
							m.Error.Code, m.WAMID = domain.MarketingLimitCode, "wamid."+m.ID.String()
						}
					}
					batch = append(batch, m)
					if rng.IntN(4) == 0 {
						replies = append(replies, domain.Arrival{Touch: true, Message: domain.Message{WorkspaceID: b.ws,
							ContactID: msgs[rng.IntN(len(msgs))].ContactID, Direction: domain.Inbound, CreatedAt: time.Now()}})
					}
				}
				err := b.tx().InTx(ctx, func(ctx context.Context, r campaigns.Repos) error {
					return campaigns.ResultsInTx(r.Progress, nil).Progressed(ctx, batch, replies)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	want := b.recipientCounts(t, c.ID)
	require.Equal(t, want, b.counters(t, c.ID))
	require.Greater(t, len(want), 2, "the test moved recipients to several statuses: %v", want)
	require.NotZero(t, want[domain.RecipientRetryScheduled], "%v", want)
	require.NotZero(t, want[domain.RecipientReplied], "%v", want)
	total := 0
	for _, k := range want {
		total += k
	}
	require.Equal(t, n, total)

	// A failed recipient carries Meta's error.
	failed, err := b.repo.Recipients(ctx, b.ws, c.ID, campaigns.RecipientFilter{Status: domain.RecipientFailed}, 1)
	require.NoError(t, err)
	if len(failed) > 0 {
		require.Equal(t, &domain.MessageError{Code: 131026, Title: "Message undeliverable"}, failed[0].Error)
	}
}

// A contact opting out counts once against each running campaign that reached it, and not
// against a campaign that did not reach it yet, nor one no longer running.
func TestCampaignOptOutsCountOncePerRecipient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupCampaigns(t)
	ana, bo := b.contact(t, b.ws, "Ana"), b.contact(t, b.ws, "Bo")
	running := b.campaign(t, domain.CampaignRunning, domain.Audience{All: true})
	paused := b.campaign(t, domain.CampaignPaused, domain.Audience{All: true})
	for _, c := range []domain.Campaign{running, paused} {
		_, err := b.repo.Snapshot(ctx, c, now())
		require.NoError(t, err)
	}
	_, err := b.pool.Exec(ctx, `UPDATE campaign_recipients SET status = 'delivered' WHERE contact_id = $1`, ana)
	require.NoError(t, err)

	got, err := b.repo.OptedOut(ctx, b.ws, ana, now())
	require.NoError(t, err)
	require.Equal(t, []campaigns.OptOuts{{Ref: campaigns.Ref{WorkspaceID: b.ws, ID: running.ID}, OptOuts: 1}}, got)
	got, err = b.repo.OptedOut(ctx, b.ws, ana, now())
	require.NoError(t, err)
	require.Empty(t, got, "counted once")
	got, err = b.repo.OptedOut(ctx, b.ws, bo, now())
	require.NoError(t, err)
	require.Empty(t, got, "not reached yet: pending")
}

// A MARKETING batch locks its contacts so that marketing sends to them take turns, but not
// against the foreign keys that reference them: another send to one of them (its message
// and conversation rows name the contact) goes on while the batch holds the lock. With a
// lock that blocked those keys' checks, such a send and the batch, each about to insert the
// same conversation, waited for each other until Postgres broke the deadlock.
func TestCampaignMarketingBatchLocksLeaveOtherSendsGoing(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	who := b.contact(t, b.ws, "Kim", "spring")
	c := b.campaign(t, domain.CampaignRunning, domain.Audience{Tags: []string{"spring"}})
	_, err := b.repo.Snapshot(ctx, c, now())
	require.NoError(t, err)

	batch, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = batch.Rollback(ctx) }()
	since := now().Add(-7 * 24 * time.Hour)
	got, err := postgres.NewCampaignRepo(batch).Next(ctx, b.ws, c.ID, 10, now(), &since)
	require.NoError(t, err)
	require.Len(t, got.Candidates, 1)

	// inTx runs fn in a transaction that gives up on a lock after a second.
	inTx := func(fn func(tx pgx.Tx) error) error {
		return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '1s'`); err != nil {
				return err
			}
			return fn(tx)
		})
	}
	at := now()
	m := domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: who, PhoneNumberID: "1065", Direction: domain.Outbound,
		Type: "template", Content: json.RawMessage(`{"name":"hello","language":{"code":"en_US"}}`), Status: domain.StatusQueued,
		CreatedAt: at}
	require.NoError(t, inTx(func(tx pgx.Tx) error {
		return postgres.NewMessageRepo(tx).Queue(ctx, m, domain.Occurred(domain.SystemIn(b.ws), at,
			domain.MessageQueued{MessageID: m.ID, ContactID: who, Type: m.Type, PhoneNumberID: m.PhoneNumberID}))
	}), "a send to the contact goes on while the batch holds it")

	err = inTx(func(tx pgx.Tx) error {
		_, _, err := postgres.NewMessageRepo(tx).LockMarketing(ctx, b.ws, who, since)
		return err
	})
	require.ErrorContains(t, err, "lock timeout", "a marketing send to the contact waits for the batch")
}
