// Package templatestest holds what tests of the templates ports share: an in-memory store,
// numbers, job queue and transaction runner, and the contract every templates.Store (the
// Postgres adapter's too) is held to. Only tests import it.
package templatestest

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

type key struct{ ws, id domain.ID }

type state struct {
	templates map[key]domain.Template
	events    []domain.Occurrence
	syncs     []templates.WABA
}

func (s *state) clone() *state {
	return &state{templates: maps.Clone(s.templates), events: slices.Clone(s.events), syncs: slices.Clone(s.syncs)}
}

// Memory is an in-memory templates.Store, templates.Numbers, event log, job queue and
// templates.TxRunner. A transaction works on a copy that replaces the state only when its
// function returns nil (transactions are serialized).
type Memory struct {
	txMu sync.Mutex
	mu   sync.Mutex
	st   *state
	// Numbers are the workspace's numbers, by the WABA they belong to.
	numbers []domain.PhoneNumber
	// ListWABACalls counts ListWABA calls (the catalogue's loads).
	ListWABACalls int
	// LastLimit is the limit of the last List call.
	LastLimit int
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{st: &state{templates: map[key]domain.Template{}}}
}

// AddNumber records a number (connected or not).
func (m *Memory) AddNumber(p domain.PhoneNumber) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.numbers = append(m.numbers, p)
}

// InTx implements templates.TxRunner.
func (m *Memory) InTx(ctx context.Context, fn func(ctx context.Context, r templates.Repos) error) error {
	m.txMu.Lock()
	defer m.txMu.Unlock()
	m.mu.Lock()
	tx := &Memory{st: m.st.clone(), numbers: m.numbers}
	m.mu.Unlock()
	if err := fn(ctx, templates.Repos{Templates: tx, Events: tx, Jobs: tx}); err != nil {
		return err
	}
	m.mu.Lock()
	m.st = tx.st
	m.mu.Unlock()
	return nil
}

// Events is every event appended, oldest first.
func (m *Memory) Events() []domain.Occurrence {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.st.events)
}

// Syncs is every sync queued, oldest first.
func (m *Memory) Syncs() []templates.WABA {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.st.syncs)
}

// Append implements events.Log.
func (m *Memory) Append(_ context.Context, os ...domain.Occurrence) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st.events = append(m.st.events, os...)
	return nil
}

// EnqueueTemplateSync implements templates.Jobs.
func (m *Memory) EnqueueTemplateSync(_ context.Context, ws domain.ID, wabaID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st.syncs = append(m.st.syncs, templates.WABA{WorkspaceID: ws, WABAID: wabaID})
	return nil
}

// Insert implements templates.Store.
func (m *Memory) Insert(_ context.Context, t domain.Template) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.st.templates {
		if o.WABAID == t.WABAID && o.Name == t.Name && o.Language == t.Language {
			return domain.Errorf(domain.KindConflict, "a template with that name and language exists on that WABA")
		}
	}
	m.st.templates[key{t.WorkspaceID, t.ID}] = t
	return nil
}

// Get implements templates.Store.
func (m *Memory) Get(_ context.Context, ws, id domain.ID, _ bool) (domain.Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.st.templates[key{ws, id}]
	if !ok {
		return domain.Template{}, domain.NotFound("template")
	}
	return t, nil
}

// ByName implements templates.Store.
func (m *Memory) ByName(_ context.Context, ws domain.ID, wabaID, name, language string, _ bool) (domain.Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, t := range m.st.templates {
		if k.ws == ws && t.WABAID == wabaID && t.Name == name && t.Language == language {
			return t, nil
		}
	}
	return domain.Template{}, domain.NotFound("template")
}

func (m *Memory) sorted(ws domain.ID, keep func(domain.Template) bool) []domain.Template {
	var out []domain.Template
	for k, t := range m.st.templates {
		if k.ws == ws && keep(t) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.String() > out[j].ID.String() })
	return out
}

// List implements templates.Store.
func (m *Memory) List(_ context.Context, ws domain.ID, f templates.Filter, limit int) ([]domain.Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.LastLimit = limit
	out := m.sorted(ws, func(t domain.Template) bool {
		return (f.Status == "" || t.Status == f.Status) && (f.Category == "" || t.Category == f.Category) &&
			(f.Name == "" || t.Name == f.Name) && (f.Language == "" || t.Language == f.Language) &&
			(f.WABAID == "" || t.WABAID == f.WABAID) && (f.Cursor.IsZero() || t.ID.String() < f.Cursor.String())
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ListWABA implements templates.Store.
func (m *Memory) ListWABA(_ context.Context, ws domain.ID, wabaID string, _ bool) ([]domain.Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ListWABACalls++
	return m.sorted(ws, func(t domain.Template) bool { return t.WABAID == wabaID }), nil
}

// Update implements templates.Store.
func (m *Memory) Update(_ context.Context, t domain.Template) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key{t.WorkspaceID, t.ID}
	old, ok := m.st.templates[k]
	if !ok {
		return nil
	}
	old.MetaTemplateID, old.Status, old.RejectedReason, old.QualityRating = t.MetaTemplateID, t.Status, t.RejectedReason, t.QualityRating
	old.Category, old.ParameterFormat, old.Components, old.UpdatedAt = t.Category, t.ParameterFormat, t.Components, t.UpdatedAt
	old.StatusAt, old.QualityAt, old.CategoryAt = t.StatusAt, t.QualityAt, t.CategoryAt
	m.st.templates[k] = old
	return nil
}

// Delete implements templates.Store.
func (m *Memory) Delete(_ context.Context, ws, id domain.ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.st.templates, key{ws, id})
	return nil
}

// WABAs implements templates.Numbers.
func (m *Memory) WABAs(_ context.Context, ws domain.ID) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, p := range m.numbers {
		if p.WorkspaceID == ws && p.Status == domain.NumberConnected && !slices.Contains(out, p.WABAID) {
			out = append(out, p.WABAID)
		}
	}
	slices.Sort(out)
	return out, nil
}

// AllWABAs implements templates.Numbers.
func (m *Memory) AllWABAs(_ context.Context) ([]templates.WABA, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []templates.WABA
	for _, p := range m.numbers {
		w := templates.WABA{WorkspaceID: p.WorkspaceID, WABAID: p.WABAID}
		if p.Status == domain.NumberConnected && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b templates.WABA) int {
		if c := strings.Compare(a.WorkspaceID.String(), b.WorkspaceID.String()); c != 0 {
			return c
		}
		return strings.Compare(a.WABAID, b.WABAID)
	})
	return out, nil
}

// ConnectedNumber implements templates.Numbers.
func (m *Memory) ConnectedNumber(_ context.Context, ws domain.ID, wabaID string) (domain.PhoneNumber, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.numbers {
		if p.WorkspaceID == ws && p.WABAID == wabaID && p.Status == domain.NumberConnected {
			return p, nil
		}
	}
	return domain.PhoneNumber{}, domain.Errorf(domain.KindNotConnected, "no connected number of that WABA")
}
