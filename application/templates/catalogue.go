package templates

import (
	"context"
	"sync"
	"time"

	"github.com/wabaplatform/waba/domain"
)

// CatalogueTTL is how long the catalogue keeps a WABA's templates: what another instance
// changed is seen within it (this instance's own changes invalidate at once).
const CatalogueTTL = 10 * time.Second

// WABAReader reads a WABA's templates in one query.
type WABAReader interface {
	ListWABA(ctx context.Context, workspaceID domain.ID, wabaID string, forUpdate bool) ([]domain.Template, error)
}

// Catalogue answers the send path's question "which template is this?" from memory: it
// loads a WABA's templates whole, in one query, and keeps them CatalogueTTL by the service
// clock. The use cases of this package (and Meta's webhooks, through them) invalidate a
// WABA after their transaction commits, so in one process a change is visible at once.
// Concurrent readers of a WABA that is not loaded share one load.
type Catalogue struct {
	store WABAReader
	now   domain.Clock
	ttl   time.Duration

	mu      sync.Mutex
	entries map[WABA]*entry
}

type entry struct {
	loaded chan struct{} // closed once byKey and err are set
	at     time.Time
	byKey  map[[2]string]domain.Template
	err    error
}

// NewCatalogue returns an empty catalogue reading store, timed by now.
func NewCatalogue(store WABAReader, now domain.Clock) *Catalogue {
	if now == nil {
		now = time.Now
	}
	return &Catalogue{store: store, now: now, ttl: CatalogueTTL, entries: map[WABA]*entry{}}
}

// Template returns the template of the WABA with that name and language; KindNotFound
// when the WABA has none.
func (c *Catalogue) Template(ctx context.Context, workspaceID domain.ID, wabaID, name, language string) (domain.Template, error) {
	e, err := c.entry(ctx, WABA{workspaceID, wabaID})
	if err != nil {
		return domain.Template{}, err
	}
	t, ok := e.byKey[[2]string{name, language}]
	if !ok {
		return domain.Template{}, domain.NotFound("template")
	}
	return t, nil
}

// Invalidate forgets what is kept of the WABA: the next read loads it again.
func (c *Catalogue) Invalidate(workspaceID domain.ID, wabaID string) {
	c.mu.Lock()
	delete(c.entries, WABA{workspaceID, wabaID})
	c.mu.Unlock()
}

func (c *Catalogue) entry(ctx context.Context, k WABA) (*entry, error) {
	c.mu.Lock()
	e := c.entries[k]
	if e != nil {
		select {
		case <-e.loaded:
			if e.err != nil || c.now().Sub(e.at) >= c.ttl {
				e = nil // stale or failed: load again
			}
		default: // loading: wait for it below
		}
	}
	if e == nil {
		e = &entry{loaded: make(chan struct{})}
		c.entries[k] = e
		c.sweep()
		c.mu.Unlock()
		c.load(ctx, k, e)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-e.loaded:
		return e, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// load fills e. The load does not end with the caller that started it: others may be
// waiting for it.
func (c *Catalogue) load(ctx context.Context, k WABA, e *entry) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	at := c.now()
	ts, err := c.store.ListWABA(ctx, k.WorkspaceID, k.WABAID, false)
	byKey := make(map[[2]string]domain.Template, len(ts))
	for _, t := range ts {
		byKey[[2]string{t.Name, t.Language}] = t
	}
	c.mu.Lock()
	e.at, e.byKey, e.err = at, byKey, err
	if err != nil && c.entries[k] == e {
		delete(c.entries, k)
	}
	c.mu.Unlock()
	close(e.loaded)
}

// sweep drops expired entries once the map grows, so WABAs no longer read do not stay in
// memory. It needs c.mu held.
func (c *Catalogue) sweep() {
	if len(c.entries) < 1024 {
		return
	}
	now := c.now()
	for k, e := range c.entries {
		select {
		case <-e.loaded:
			if now.Sub(e.at) >= c.ttl {
				delete(c.entries, k)
			}
		default:
		}
	}
}
