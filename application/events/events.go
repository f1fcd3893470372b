// Package events is the spine's log: the port every use case appends its domain events to
// (in the transaction of the change), and the dispatch of the log to its subscribers.
//
// Each subscriber reads the log at its own position, in order, in batches, through a River
// job of its own: a slow or failing subscriber holds back only itself, never the change
// that caused an event nor another subscriber. Delivery is at least once (a batch whose
// position could not be stored is delivered again), so a subscriber is idempotent on
// Logged.ID. Adding one is a package that implements Subscriber and one registration in
// bootstrap; nothing that appends events changes.
package events

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/wabaplatform/waba/domain"
)

// Log appends occurrences to the event log in the current transaction, with the audit
// entries of the kinds the audit trail keeps (domain.Occurrence.AuditEntry).
type Log interface {
	Append(ctx context.Context, os ...domain.Occurrence) error
}

// Logged is an event as the log keeps it and subscribers read it.
type Logged struct {
	ID           int64
	Tx           uint64    // the transaction that appended it
	WorkspaceID  domain.ID // NilID outside any workspace
	Kind         domain.EventKind
	ActorType    domain.ActorType
	ActorID      string
	ResourceType string
	ResourceID   string
	ContactID    *domain.ID
	MessageID    *domain.ID
	Payload      json.RawMessage // the event's details
	At           time.Time
}

// Position is where e stands in the log: the order subscribers read it in.
func (e Logged) Position() Position { return Position{Tx: e.Tx, ID: e.ID} }

// Position is a place in the log: after the event with this transaction and id.
type Position struct {
	Tx uint64
	ID int64
}

// Before reports whether p comes before q in the log.
func (p Position) Before(q Position) bool { return p.Tx < q.Tx || p.Tx == q.Tx && p.ID < q.ID }

// Subscriber consumes the log.
type Subscriber interface {
	// Name keys the subscriber's position; changing it starts the subscriber over.
	Name() string
	// Handle consumes a batch, oldest first. An error delivers the same batch again later.
	Handle(ctx context.Context, batch []Logged) error
}

// Positions keeps subscribers' positions and reads the log after them.
type Positions interface {
	// Claim locks name's position for the rest of the transaction, creating it at the
	// start of the log; ok is false while another transaction holds it.
	Claim(ctx context.Context, name string) (p Position, ok bool, err error)
	// After reads up to limit events after p, oldest first, of transactions that no
	// running transaction precedes (so a later read never finds an event before p).
	After(ctx context.Context, p Position, limit int) ([]Logged, error)
	// Move stores name's new position.
	Move(ctx context.Context, name string, p Position) error
	// Prune deletes up to limit events older than before that every named subscriber has
	// read (none while one of them has no position yet; with no names, any such event),
	// oldest first, and says how many it deleted.
	Prune(ctx context.Context, before time.Time, names []string, limit int) (int, error)
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, p Positions) error) error
}

// BatchSize is how many events a subscriber is handed at once.
const BatchSize = 500

// Retention is how long the log keeps an event every subscriber has read: as long as the
// audit trail keeps its entries, so the two tell the same story.
const Retention = domain.AuditRetention

// PurgeBatch is how many events one purge transaction deletes.
const PurgeBatch = 5000

// Dispatcher hands the log to its subscribers, and purges what they have all read.
type Dispatcher struct {
	tx   TxRunner
	subs map[string]Subscriber
	now  func() time.Time
}

// NewDispatcher returns the dispatcher of subs (their names must differ), reading the time
// for retention from now.
func NewDispatcher(tx TxRunner, subs []Subscriber, now func() time.Time) *Dispatcher {
	d := &Dispatcher{tx: tx, subs: map[string]Subscriber{}, now: now}
	for _, s := range subs {
		if _, dup := d.subs[s.Name()]; dup {
			panic("events: two subscribers named " + s.Name())
		}
		d.subs[s.Name()] = s
	}
	return d
}

// Names lists the subscribers, sorted.
func (d *Dispatcher) Names() []string {
	return slices.Sorted(maps.Keys(d.subs))
}

// Deliver hands the named subscriber its next batch and moves its position past it; more
// says a full batch was delivered (there may be more). A subscriber another transaction
// is serving is left to it. An unknown name is an error.
func (d *Dispatcher) Deliver(ctx context.Context, name string) (more bool, err error) {
	sub, ok := d.subs[name]
	if !ok {
		return false, domain.Errorf(domain.KindNotFound, "no event subscriber %q", name)
	}
	err = d.tx.InTx(ctx, func(ctx context.Context, ps Positions) error {
		p, ok, err := ps.Claim(ctx, name)
		if err != nil || !ok {
			return err
		}
		batch, err := ps.After(ctx, p, BatchSize)
		if err != nil || len(batch) == 0 {
			return err
		}
		if err := sub.Handle(ctx, batch); err != nil {
			return err
		}
		more = len(batch) == BatchSize
		return ps.Move(ctx, name, batch[len(batch)-1].Position())
	})
	return more, err
}

// Purge deletes, in batches, the events older than Retention that every subscriber has
// read; an event a subscriber has not read yet stays, however old.
func (d *Dispatcher) Purge(ctx context.Context) (int, error) {
	before := d.now().Add(-Retention)
	total := 0
	for {
		var n int
		err := d.tx.InTx(ctx, func(ctx context.Context, ps Positions) error {
			var err error
			n, err = ps.Prune(ctx, before, d.Names(), PurgeBatch)
			return err
		})
		total += n
		if err != nil || n < PurgeBatch {
			return total, err
		}
	}
}
