// Package audittest holds what tests of the audit port share: an in-memory store, and the
// contract every audit.Store (the Postgres adapter's too) is held to. Only tests import it.
package audittest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/domain"
)

// ListCall is what a List call asked the store for.
type ListCall struct {
	WS     domain.ID
	Filter audit.Filter
	Limit  int
}

// DeleteCall is what a DeleteExpired call asked the store for.
type DeleteCall struct {
	Now   time.Time
	Batch int
}

// Memory is an in-memory audit store: it records entries, lists,
// streams and expires them as the Postgres adapter does, and records the calls it serves,
// for tests of what a use case asks.
type Memory struct {
	mu      sync.Mutex
	entries []domain.AuditEntry
	lists   []ListCall
	eaches  int
	deletes []DeleteCall
	// failDeletes, when set, is returned by every DeleteExpired call after the first
	// deletesBeforeFailing ones.
	failDeletes          error
	deletesBeforeFailing int
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{} }

// Record stores e as the Postgres adapter would read it back: its details through JSON,
// none as an empty object.
func (db *Memory) Record(_ context.Context, e domain.AuditEntry) error {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit details: %w", err)
	}
	e.Details = nil
	if err := json.Unmarshal(raw, &e.Details); err != nil {
		return fmt.Errorf("audit details: %w", err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.entries = append(db.entries, e)
	return nil
}

// Entries returns the stored entries, in the order they were recorded.
func (db *Memory) Entries() []domain.AuditEntry {
	db.mu.Lock()
	defer db.mu.Unlock()
	return slices.Clone(db.entries)
}

// Lists returns the List calls served so far.
func (db *Memory) Lists() []ListCall {
	db.mu.Lock()
	defer db.mu.Unlock()
	return slices.Clone(db.lists)
}

// Eaches counts the Each calls served so far.
func (db *Memory) Eaches() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.eaches
}

// Deletes returns the DeleteExpired calls served so far.
func (db *Memory) Deletes() []DeleteCall {
	db.mu.Lock()
	defer db.mu.Unlock()
	return slices.Clone(db.deletes)
}

// FailDeletes makes every DeleteExpired call after the next n fail with err.
func (db *Memory) FailDeletes(n int, err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.deletesBeforeFailing, db.failDeletes = n+len(db.deletes), err
}

// matching is the entries of ws f selects, newest (highest id) first. An entry outside
// any workspace belongs to none, not to the zero id.
func (db *Memory) matching(ws domain.ID, f audit.Filter) []domain.AuditEntry {
	var out []domain.AuditEntry
	for _, e := range db.entries {
		switch {
		case e.WorkspaceID.IsZero(), e.WorkspaceID != ws,
			f.Action != "" && e.Action != f.Action,
			f.ActorID != "" && e.ActorID != f.ActorID,
			f.ResourceType != "" && e.ResourceType != f.ResourceType,
			f.ResourceID != "" && e.ResourceID != f.ResourceID,
			!f.From.IsZero() && e.CreatedAt.Before(f.From),
			!f.To.IsZero() && e.CreatedAt.After(f.To),
			!f.Cursor.IsZero() && bytes.Compare(e.ID[:], f.Cursor[:]) >= 0:
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) > 0 })
	return out
}

// List returns up to limit matching entries, newest first.
func (db *Memory) List(_ context.Context, ws domain.ID, f audit.Filter, limit int) ([]domain.AuditEntry, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.lists = append(db.lists, ListCall{WS: ws, Filter: f, Limit: limit})
	out := db.matching(ws, f)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Each streams the matching entries, newest first, without holding the lock while fn runs.
func (db *Memory) Each(_ context.Context, ws domain.ID, f audit.Filter, fn func(domain.AuditEntry) error) error {
	db.mu.Lock()
	db.eaches++
	out := db.matching(ws, f)
	db.mu.Unlock()
	for _, e := range out {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// DeleteExpired deletes up to batch entries that expired before now, of any workspace or
// none.
func (db *Memory) DeleteExpired(_ context.Context, now time.Time, batch int) (int, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.deletes = append(db.deletes, DeleteCall{Now: now, Batch: batch})
	if db.failDeletes != nil && len(db.deletes) > db.deletesBeforeFailing {
		return 0, db.failDeletes
	}
	n := 0
	db.entries = slices.DeleteFunc(db.entries, func(e domain.AuditEntry) bool {
		if n < batch && e.ExpiresAt.Before(now) {
			n++
			return true
		}
		return false
	})
	return n, nil
}
