package eventstest

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// Memory is an in-memory event log: an events.Log, and the Positions and TxRunner a
// Dispatcher reads it with. Appends commit at once, in order; a transaction's position
// moves are kept only when its function returns nil, and its claims last until it ends.
type Memory struct {
	mu        sync.Mutex
	seq       int64
	logged    []events.Logged
	audit     []domain.AuditEntry
	positions map[string]events.Position
	claimed   map[string]bool
}

// NewMemory returns an empty log.
func NewMemory() *Memory {
	return &Memory{positions: map[string]events.Position{}, claimed: map[string]bool{}}
}

// Append implements events.Log.
func (m *Memory) Append(_ context.Context, os ...domain.Occurrence) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range os {
		s := o.Event.Subject()
		payload, err := json.Marshal(JSONDetails(s.Details))
		if err != nil {
			return err
		}
		m.seq++
		id := m.seq
		m.logged = append(m.logged, events.Logged{ID: id, Tx: uint64(id),
			WorkspaceID: o.WorkspaceID(), Kind: o.Event.Kind(), ActorType: o.Actor.Type, ActorID: o.Actor.ID.StringOrEmpty(),
			ResourceType: s.ResourceType, ResourceID: s.ResourceID, ContactID: s.ContactID, MessageID: s.MessageID,
			Payload: payload, At: o.At})
		if e, ok := o.AuditEntry(); ok {
			m.audit = append(m.audit, e)
		}
	}
	return nil
}

// Rows is the log of ws, oldest first.
func (m *Memory) Rows(ws domain.ID) []Row {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Row
	for _, e := range m.logged {
		if e.WorkspaceID != ws {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(e.Payload, &d); err != nil {
			panic(err)
		}
		out = append(out, Row{WorkspaceID: e.WorkspaceID, Kind: e.Kind, ActorType: e.ActorType, ContactID: e.ContactID,
			MessageID: e.MessageID, Details: d})
	}
	return out
}

// Actions is the audit trail of ws as actions, oldest first.
func (m *Memory) Actions(ws domain.ID) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.audit {
		if e.WorkspaceID == ws {
			out = append(out, e.Action)
		}
	}
	return out
}

// InTx implements events.TxRunner.
func (m *Memory) InTx(ctx context.Context, fn func(ctx context.Context, p events.Positions) error) error {
	tx := &memoryTx{m: m, moves: map[string]events.Position{}}
	err := fn(ctx, tx)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range tx.claims {
		delete(m.claimed, name)
	}
	if err == nil {
		for name, p := range tx.moves {
			m.positions[name] = p
		}
	}
	return err
}

type memoryTx struct {
	m      *Memory
	claims []string
	moves  map[string]events.Position
}

func (t *memoryTx) Claim(_ context.Context, name string) (events.Position, bool, error) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	if t.m.claimed[name] {
		return events.Position{}, false, nil
	}
	t.m.claimed[name] = true
	t.claims = append(t.claims, name)
	return t.m.positions[name], true, nil
}

func (t *memoryTx) After(_ context.Context, p events.Position, limit int) ([]events.Logged, error) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	var out []events.Logged
	for _, e := range t.m.logged {
		if p.Before(e.Position()) && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (t *memoryTx) Move(_ context.Context, name string, p events.Position) error {
	t.moves[name] = p
	return nil
}

func (t *memoryTx) Prune(_ context.Context, before time.Time, names []string, limit int) (int, error) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	read := func(e events.Logged) bool {
		for _, n := range names {
			p, ok := t.m.positions[n]
			if !ok || p.Before(e.Position()) {
				return false
			}
		}
		return true
	}
	kept := t.m.logged[:0]
	n := 0
	for _, e := range t.m.logged {
		if n < limit && e.At.Before(before) && read(e) {
			n++
			continue
		}
		kept = append(kept, e)
	}
	t.m.logged = kept
	return n, nil
}
