// Package audit lists, exports and expires the audit trail. Entries are written by the use
// case that makes each change, inside its transaction; this package only reads and purges.
package audit

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Filter selects entries of one workspace. Zero fields do not filter.
type Filter struct {
	Action       string
	ActorID      string
	ResourceType string
	ResourceID   string
	From, To     time.Time
	Limit        int
	Cursor       domain.ID // return entries older than this one
}

// Store reads and purges audit entries.
type Store interface {
	// List returns up to limit entries matching f, newest first.
	List(ctx context.Context, workspaceID domain.ID, f Filter, limit int) ([]domain.AuditEntry, error)
	// Each streams every entry matching f, newest first, without holding them in memory.
	Each(ctx context.Context, workspaceID domain.ID, f Filter, fn func(domain.AuditEntry) error) error
	// DeleteExpired deletes up to batch entries that expired before now.
	DeleteExpired(ctx context.Context, now time.Time, batch int) (int, error)
}

// Service is the audit use cases.
type Service struct {
	store Store
	authz authz.Authorizer
	now   func() time.Time
}

// NewService returns the audit use cases.
func NewService(store Store, a authz.Authorizer) *Service {
	return &Service{store: store, authz: a, now: time.Now}
}

// List returns one page of the workspace's audit entries.
func (s *Service) List(ctx context.Context, c domain.Caller, f Filter) (domain.Page[domain.AuditEntry], error) {
	if err := authz.Require(s.authz, c, access.AuditRead); err != nil {
		return domain.Page[domain.AuditEntry]{}, err
	}
	if err := validate(f); err != nil {
		return domain.Page[domain.AuditEntry]{}, err
	}
	return domain.ReadPage(f.Limit, func(n int) ([]domain.AuditEntry, error) { return s.store.List(ctx, c.WorkspaceID, f, n) },
		func(e domain.AuditEntry) domain.ID { return e.ID })
}

// Export streams every matching entry to fn, newest first.
func (s *Service) Export(ctx context.Context, c domain.Caller, f Filter, fn func(domain.AuditEntry) error) error {
	if err := authz.Require(s.authz, c, access.AuditExport); err != nil {
		return err
	}
	if err := validate(f); err != nil {
		return err
	}
	return s.store.Each(ctx, c.WorkspaceID, f, fn)
}

// PurgeBatch bounds each delete so the purge never holds long locks.
const PurgeBatch = 5000

// Purge deletes expired entries in batches and returns how many it deleted.
func (s *Service) Purge(ctx context.Context) (int, error) {
	total := 0
	now := s.now()
	for {
		n, err := s.store.DeleteExpired(ctx, now, PurgeBatch)
		total += n
		if err != nil || n < PurgeBatch {
			return total, err
		}
	}
}

func validate(f Filter) error {
	var v domain.Validator
	v.Check(f.From.IsZero() || f.To.IsZero() || !f.To.Before(f.From), "to", "must not be before from")
	v.Check(len(f.Action) <= 100, "action", "is too long")
	v.Check(len(f.ResourceType) <= 100, "resource_type", "is too long")
	v.Check(len(f.ResourceID) <= 200, "resource_id", "is too long")
	v.Check(len(f.ActorID) <= 200, "actor_id", "is too long")
	return v.Err()
}
