package audit_test

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/audit"
	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// policy mirrors the audit rows of adapters/casbinrbac/policy.csv.
var policy = authztest.Grants{
	access.Owner:   {access.AuditRead, access.AuditExport},
	access.Manager: {access.AuditRead, access.AuditExport},
}

type listCall struct {
	ws    domain.ID
	f     audit.Filter
	limit int
}

type deleteCall struct {
	now   time.Time
	batch int
}

// fakeStore holds entries in memory and records what it was asked.
type fakeStore struct {
	mu      sync.Mutex
	entries []domain.AuditEntry
	lists   []listCall
	eaches  int
	// deleted is what successive DeleteExpired calls return; the last one repeats.
	deleted   []int
	deleteErr error // returned by the call after deleted runs out, when set
	deletes   []deleteCall
}

func (s *fakeStore) matching(ws domain.ID, f audit.Filter) []domain.AuditEntry {
	var out []domain.AuditEntry
	for _, e := range s.entries {
		switch {
		case e.WorkspaceID != ws,
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

func (s *fakeStore) List(_ context.Context, ws domain.ID, f audit.Filter, limit int) ([]domain.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists = append(s.lists, listCall{ws: ws, f: f, limit: limit})
	out := s.matching(ws, f)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *fakeStore) Each(_ context.Context, ws domain.ID, f audit.Filter, fn func(domain.AuditEntry) error) error {
	s.mu.Lock()
	s.eaches++
	out := s.matching(ws, f)
	s.mu.Unlock()
	for _, e := range out {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeStore) DeleteExpired(_ context.Context, now time.Time, batch int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deletes = append(s.deletes, deleteCall{now: now, batch: batch})
	i := len(s.deletes) - 1
	if i > 1000 {
		return 0, nil // a purge that never stops is a bug the test reports, not a hang
	}
	if i >= len(s.deleted) {
		if s.deleteErr != nil {
			return 0, s.deleteErr
		}
		i = len(s.deleted) - 1
	}
	return s.deleted[i], nil
}
