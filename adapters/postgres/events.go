package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// EventLog appends domain events to the event log (the events table) and the audit
// entries derived from them, in the transaction of the change that caused them.
type EventLog struct{ q Querier }

// NewEventLog returns the log over q (a pool or a transaction).
func NewEventLog(q Querier) *EventLog { return &EventLog{q: q} }

// Append implements events.Log: every row in one round trip.
func (l *EventLog) Append(ctx context.Context, os ...domain.Occurrence) error {
	var b pgx.Batch
	for _, o := range os {
		if err := queueEvent(&b, o); err != nil {
			return err
		}
	}
	return l.q.SendBatch(ctx, &b).Close()
}

// queueEvent queues on b the one statement that stores o: its row in the log and, for the
// kinds the audit trail keeps, its audit entry. Writers that store a change in a batch
// send its events with it.
func queueEvent(b *pgx.Batch, o domain.Occurrence) error {
	args, audited, err := eventArgs(o)
	if err != nil {
		return err
	}
	insert := `INSERT INTO events (` + eventColumns + `) VALUES (` + params(1, len(args)) + `)`
	if !audited {
		b.Queue(insert, args...)
		return nil
	}
	entry, _ := o.AuditEntry()
	asql, aargs, err := auditInsert(entry, len(args)+1)
	if err != nil {
		return err
	}
	b.Queue(`WITH e AS (`+insert+`) `+asql, append(args, aargs...)...)
	return nil
}

// queueEvents queues on b one statement that stores every occurrence of os, in order: their
// rows in the log and the audit entries of the kinds the trail keeps (a batch of queued
// messages pays one statement, not one per message).
func queueEvents(b *pgx.Batch, os []domain.Occurrence) error {
	if len(os) == 0 {
		return nil
	}
	cols := make([][]any, 10) // eventColumns, as arrays
	audit := make([][]any, 13)
	for _, o := range os {
		args, audited, err := eventArgs(o)
		if err != nil {
			return err
		}
		args[8] = string(args[8].([]byte)) // the payload, as text for the jsonb cast
		for i, a := range args {
			cols[i] = append(cols[i], a)
		}
		if !audited {
			continue
		}
		entry, _ := o.AuditEntry()
		_, aargs, err := auditInsert(entry, 1)
		if err != nil {
			return err
		}
		aargs[7] = string(aargs[7].([]byte)) // details
		for i, a := range aargs {
			audit[i] = append(audit[i], a)
		}
	}
	args := make([]any, 0, len(cols)+len(audit))
	for _, c := range append(cols, audit...) {
		args = append(args, c)
	}
	b.Queue(`
		WITH e AS (
			INSERT INTO events (`+eventColumns+`)
			SELECT ws, kind, actor_type, actor_id, resource_type, resource_id, contact_id, message_id, payload::jsonb, at
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::uuid[], $9::text[],
				$10::timestamptz[]) AS e (ws, kind, actor_type, actor_id, resource_type, resource_id, contact_id, message_id, payload, at))
		INSERT INTO audit_logs (id, workspace_id, actor_type, actor_id, action, resource_type, resource_id, details, ip, user_agent,
			request_id, created_at, expires_at)
		SELECT id, ws, actor_type, actor_id, action, resource_type, resource_id, details::jsonb, ip, user_agent, request_id, at, expires_at
		FROM unnest($11::uuid[], $12::uuid[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
			$20::text[], $21::text[], $22::timestamptz[], $23::timestamptz[])
			AS a (id, ws, actor_type, actor_id, action, resource_type, resource_id, details, ip, user_agent, request_id, at, expires_at)`,
		args...)
	return nil
}

// eventColumns are the columns eventArgs gives values for, in order.
const eventColumns = `workspace_id, kind, actor_type, actor_id, resource_type, resource_id, contact_id, message_id, payload, created_at`

// eventArgs are the values of o's row in the log, in eventColumns' order, and whether the
// audit trail keeps o too. A statement that stores a change and its event together
// (ReceiveInbound, UpdateDelivery) inserts them with its own parameter numbers.
func eventArgs(o domain.Occurrence) (args []any, audited bool, err error) {
	s := o.Event.Subject()
	details := s.Details
	if details == nil {
		details = map[string]any{}
	}
	payload, err := json.Marshal(details)
	if err != nil {
		return nil, false, fmt.Errorf("event %s: %w", o.Event.Kind(), err)
	}
	var ws *domain.ID
	if id := o.WorkspaceID(); !id.IsZero() {
		ws = &id
	}
	return []any{ws, string(o.Event.Kind()), string(o.Actor.Type), o.Actor.ID.StringOrEmpty(), s.ResourceType, s.ResourceID,
		s.ContactID, s.MessageID, sanitizeJSONB(payload), o.At}, s.Audited, nil
}

// unauditedArgs are eventArgs of an event written where only the log's row is (in a
// change's own statement); one the audit trail keeps is refused.
func unauditedArgs(o domain.Occurrence) ([]any, error) {
	args, audited, err := eventArgs(o)
	if err == nil && audited {
		err = fmt.Errorf("event %s is audited: append it with the EventLog", o.Event.Kind())
	}
	return args, err
}

// params is "$from, ..., $(from+n-1)".
func params(from, n int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("$" + strconv.Itoa(from+i))
	}
	return sb.String()
}

// EventPositions keeps the subscribers' positions in the log (events.Positions).
type EventPositions struct{ q Querier }

// NewEventPositions returns the positions over q (a transaction: Claim's lock lasts until
// it ends).
func NewEventPositions(q Querier) *EventPositions { return &EventPositions{q: q} }

// Claim implements events.Positions.
func (p *EventPositions) Claim(ctx context.Context, name string) (events.Position, bool, error) {
	if _, err := p.q.Exec(ctx, `INSERT INTO event_subscriptions (name) VALUES ($1) ON CONFLICT DO NOTHING`, name); err != nil {
		return events.Position{}, false, err
	}
	var tx string
	var pos events.Position
	err := p.q.QueryRow(ctx, `SELECT tx::text, event_id FROM event_subscriptions WHERE name = $1 FOR UPDATE SKIP LOCKED`,
		name).Scan(&tx, &pos.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return pos, false, nil
	}
	if err != nil {
		return pos, false, err
	}
	pos.Tx, err = strconv.ParseUint(tx, 10, 64)
	return pos, err == nil, err
}

// After implements events.Positions: transactions are read only below the snapshot's
// xmin, the oldest one still running, so one that commits later can never land behind a
// position already passed.
func (p *EventPositions) After(ctx context.Context, pos events.Position, limit int) ([]events.Logged, error) {
	rows, err := p.q.Query(ctx, `
		SELECT `+loggedColumns+`
		FROM events e
		WHERE (tx, id) > ($1::text::xid8, $2) AND tx < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY tx, id LIMIT $3`, strconv.FormatUint(pos.Tx, 10), pos.ID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (events.Logged, error) {
		var e events.Logged
		err := scanLogged(row, &e)
		return e, err
	})
}

// loggedColumns and scanLogged read an event of the log (aliased e) as subscribers get it;
// scanLogged reads extra columns selected after them into extra.
const loggedColumns = `e.id, e.tx::text, coalesce(e.workspace_id, '00000000-0000-0000-0000-000000000000'), e.kind,
	e.actor_type, e.actor_id, e.resource_type, e.resource_id, e.contact_id, e.message_id, e.payload, e.created_at`

func scanLogged(row pgx.Row, e *events.Logged, extra ...any) error {
	var tx, kind, actor string
	err := row.Scan(append([]any{&e.ID, &tx, &e.WorkspaceID, &kind, &actor, &e.ActorID, &e.ResourceType, &e.ResourceID,
		&e.ContactID, &e.MessageID, &e.Payload, &e.At}, extra...)...)
	if err != nil {
		return err
	}
	e.Kind, e.ActorType = domain.EventKind(kind), domain.ActorType(actor)
	e.Tx, err = strconv.ParseUint(tx, 10, 64)
	return err
}

// Move implements events.Positions.
func (p *EventPositions) Move(ctx context.Context, name string, pos events.Position) error {
	_, err := p.q.Exec(ctx, `UPDATE event_subscriptions SET tx = $2::text::xid8, event_id = $3, updated_at = now()
		WHERE name = $1`, name, strconv.FormatUint(pos.Tx, 10), pos.ID)
	return err
}

// Prune implements events.Positions: the lowest position of the named subscribers bounds
// what goes (a name without a row has read nothing), taken oldest first through the
// primary key.
func (p *EventPositions) Prune(ctx context.Context, before time.Time, names []string, limit int) (int, error) {
	tag, err := p.q.Exec(ctx, `
		WITH lowest AS (
			SELECT s.tx, s.event_id FROM unnest($2::text[]) AS n (name)
			LEFT JOIN event_subscriptions s ON s.name = n.name
			ORDER BY s.tx NULLS FIRST, s.event_id LIMIT 1),
		doomed AS (
			SELECT e.tx, e.id FROM events e
			WHERE e.created_at < $1 AND (cardinality($2::text[]) = 0
				OR (e.tx, e.id) <= (SELECT l.tx, l.event_id FROM lowest l WHERE l.tx IS NOT NULL))
			ORDER BY e.tx, e.id LIMIT $3)
		DELETE FROM events e USING doomed d WHERE e.tx = d.tx AND e.id = d.id`, before, names, limit)
	return int(tag.RowsAffected()), err
}
