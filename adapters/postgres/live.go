package postgres

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/live"
	"github.com/wabaplatform/waba/domain"
)

// LiveFeed reads the event log for live streams (live.Feed).
type LiveFeed struct{ q Querier }

// NewLiveFeed returns the feed over q.
func NewLiveFeed(q Querier) *LiveFeed { return &LiveFeed{q: q} }

// horizon is the transaction id the feed reads below: the oldest transaction of this
// database still running (or, with none, the next to complete). Every transaction below it
// has ended before the horizon's statement did, so a read that starts after it sees all
// of their events, and a later read never finds one behind a position already passed.
// Unlike the snapshot's xmin (the subscribers' rule), a long transaction in another
// database of the server does not hold the live streams back: events are appended only
// by this database's transactions. It must be a statement of its own, run before the read.
func (f *LiveFeed) horizon(ctx context.Context) (string, error) {
	var h string
	err := f.q.QueryRow(ctx, `
		WITH s AS (SELECT pg_current_snapshot() AS s)
		SELECT coalesce(
			(SELECT min(x::text::bigint) FROM s, pg_snapshot_xip(s.s) x
				WHERE x::text::bigint % 4294967296 IN (SELECT backend_xid::text::bigint FROM pg_stat_activity
					WHERE datname = current_database() AND backend_xid IS NOT NULL)),
			(SELECT pg_snapshot_xmax(s.s)::text::bigint FROM s))::text`).Scan(&h)
	return h, err
}

// Tail implements live.Feed: the newest event below the horizon, through the primary key
// backwards.
func (f *LiveFeed) Tail(ctx context.Context) (events.Position, error) {
	h, err := f.horizon(ctx)
	if err != nil {
		return events.Position{}, err
	}
	var tx string
	var p events.Position
	err = f.q.QueryRow(ctx, `SELECT tx::text, id FROM events WHERE tx < $1::text::xid8
		ORDER BY tx DESC, id DESC LIMIT 1`, h).Scan(&tx, &p.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return events.Position{}, nil
	}
	if err != nil {
		return p, err
	}
	p.Tx, err = strconv.ParseUint(tx, 10, 64)
	return p, err
}

// liveColumns reads an entry: the event, its conversation (a message's by its contact
// and number, a conversation event's own, a note's) and who that conversation and the
// event's contact are assigned to now. Each look-up is one primary or unique key probe (a
// LATERAL subquery with a LIMIT: the planner cannot hash the workspace's messages or
// contacts for a page of events).
const liveColumns = `
	SELECT ` + loggedColumns + `, cv.id, cv.assigned_to, ct.assigned_to
	FROM events e
	LEFT JOIN LATERAL (SELECT m.workspace_id, m.contact_id, m.phone_number_id FROM messages m
		WHERE m.workspace_id = e.workspace_id AND m.id = e.message_id LIMIT 1) m ON true
	LEFT JOIN LATERAL (
		SELECT c.id, c.assigned_to FROM conversations c
		WHERE c.workspace_id = e.workspace_id AND c.id = (CASE e.resource_type
			WHEN 'conversation' THEN e.resource_id WHEN 'note' THEN e.payload->>'conversation_id' END)::uuid
		UNION ALL
		SELECT c.id, c.assigned_to FROM conversations c
		WHERE c.workspace_id = m.workspace_id AND c.contact_id = m.contact_id AND c.phone_number_id = m.phone_number_id
		LIMIT 1) cv ON true
	LEFT JOIN LATERAL (SELECT ct.assigned_to FROM contacts ct
		WHERE ct.workspace_id = e.workspace_id AND ct.id = e.contact_id LIMIT 1) ct ON true`

// After implements live.Feed: the events below the horizon.
func (f *LiveFeed) After(ctx context.Context, p events.Position, ws domain.ID, kinds []domain.EventKind, limit int) ([]live.Entry, error) {
	h, err := f.horizon(ctx)
	if err != nil {
		return nil, err
	}
	ks := make([]string, len(kinds))
	for i, k := range kinds {
		ks[i] = string(k)
	}
	var rows pgx.Rows
	if ws.IsZero() {
		rows, err = f.q.Query(ctx, liveColumns+`
			WHERE (e.tx, e.id) > ($1::text::xid8, $2) AND e.tx < $5::text::xid8
				AND e.kind = ANY($3) AND e.workspace_id IS NOT NULL
			ORDER BY e.tx, e.id LIMIT $4`, strconv.FormatUint(p.Tx, 10), p.ID, ks, limit, h)
	} else {
		rows, err = f.q.Query(ctx, liveColumns+`
			WHERE e.workspace_id = $5 AND (e.tx, e.id) > ($1::text::xid8, $2)
				AND e.tx < $6::text::xid8 AND e.kind = ANY($3)
			ORDER BY e.tx, e.id LIMIT $4`, strconv.FormatUint(p.Tx, 10), p.ID, ks, limit, ws, h)
	}
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (live.Entry, error) {
		var e live.Entry
		err := scanLogged(row, &e.Logged, &e.ConversationID, &e.ConversationAssignee, &e.ContactAssignee)
		return e, err
	})
}

// At implements live.Feed.
func (f *LiveFeed) At(ctx context.Context, ws domain.ID, p events.Position) (time.Time, bool, error) {
	var at time.Time
	err := f.q.QueryRow(ctx, `SELECT created_at FROM events WHERE tx = $1::text::xid8 AND id = $2 AND workspace_id = $3`,
		strconv.FormatUint(p.Tx, 10), p.ID, ws).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return at, false, nil
	}
	return at, err == nil, err
}

// EventsChannel is the channel that tells the instances' live hubs the log grew.
const EventsChannel = "waba_events"

// Announcer sends the NOTIFY on EventsChannel after transactions that appended events
// commit, outside them: Postgres serializes the commits of every transaction that
// notifies (a lock held through the commit's WAL flush), so a NOTIFY inside each sending or
// receiving transaction would queue them behind one another. Announcements coalesce: while
// one NOTIFY is on its way, any number of commits make one more.
type Announcer struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	pending chan struct{}
}

// NewAnnouncer returns an announcer over pool; Run sends its notifications.
func NewAnnouncer(pool *pgxpool.Pool, log *slog.Logger) *Announcer {
	return &Announcer{pool: pool, log: log, pending: make(chan struct{}, 1)}
}

// Announce asks for a notification; it never blocks.
func (a *Announcer) Announce() {
	select {
	case a.pending <- struct{}{}:
	default:
	}
}

// Run sends the notifications asked for until ctx ends.
func (a *Announcer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.pending:
			if _, err := a.pool.Exec(ctx, `SELECT pg_notify($1, '')`, EventsChannel); err != nil && ctx.Err() == nil {
				// The hubs read the log every live.Poll anyway.
				a.log.Warn("live events: notify", "err", err)
			}
		}
	}
}

// Listen holds one connection listening on EventsChannel and calls wake for every
// notification, and once after each (re)connection (what was missed while away), until
// ctx ends. A lost connection is retried with a growing pause.
func Listen(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, wake func()) {
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, wake, func() { pause = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		log.Warn("live events: listening connection lost", "err", err, "retry_in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, wake, connected func()) error {
	// Its own connection, outside the pool: it stays in LISTEN mode.
	c, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Close(closeCtx)
	}()
	if _, err := c.Exec(ctx, `LISTEN `+EventsChannel); err != nil {
		return err
	}
	connected()
	wake()
	for {
		if _, err := c.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
