package templatestest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

// Subject is a templates store under the contract, with what the contract needs around it.
type Subject struct {
	Store   templates.Store
	Numbers templates.Numbers
	// Workspace creates a workspace and returns its id.
	Workspace func(t *testing.T) domain.ID
	// Number connects (or not) a number of the WABA to ws and returns it.
	Number func(t *testing.T, ws domain.ID, wabaID string, status domain.NumberStatus) domain.PhoneNumber
}

// NewSubject returns the Memory store as a contract subject.
func NewSubject(db *Memory) Subject {
	return Subject{Store: db, Numbers: db,
		Workspace: func(*testing.T) domain.ID { return domain.NewID() },
		Number: func(_ *testing.T, ws domain.ID, wabaID string, status domain.NumberStatus) domain.PhoneNumber {
			p := domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: fmt.Sprint(seq.Add(1)), WABAID: wabaID, Status: status}
			db.AddNumber(p)
			return p
		}}
}

var seq atomic.Int64

// Unique returns a fresh id-like string (WABAs are global: tests must not share them).
func Unique(prefix string) string {
	return fmt.Sprintf("%s%d%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

// RunStoreContract holds a templates.Store and templates.Numbers to what the ports promise.
func RunStoreContract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	tpl := func(ws domain.ID, waba, name string) domain.Template {
		return domain.Template{ID: domain.NewID(), WorkspaceID: ws, WABAID: waba, MetaTemplateID: Unique(""), Name: name,
			Language: "en_US", Category: domain.CategoryUtility, Status: domain.TemplatePending,
			ParameterFormat: domain.ParametersPositional,
			Components:      []domain.TemplateComponent{{Type: "BODY", Text: "Order {{1}} shipped", Example: json.RawMessage(`{"body_text":[["42"]]}`)}},
			CreatedAt:       at, UpdatedAt: at, StatusAt: &at}
	}
	same := func(t *testing.T, want, got domain.Template) {
		t.Helper()
		require.True(t, want.CreatedAt.Equal(got.CreatedAt))
		require.True(t, want.UpdatedAt.Equal(got.UpdatedAt))
		for _, p := range [][2]*time.Time{{want.StatusAt, got.StatusAt}, {want.QualityAt, got.QualityAt}, {want.CategoryAt, got.CategoryAt}} {
			require.Equal(t, p[0] == nil, p[1] == nil)
			if p[0] != nil {
				require.True(t, p[0].Equal(*p[1]))
			}
		}
		want.CreatedAt, want.UpdatedAt, want.StatusAt, want.QualityAt, want.CategoryAt = got.CreatedAt, got.UpdatedAt, got.StatusAt, got.QualityAt, got.CategoryAt
		require.Equal(t, want, got)
	}

	t.Run("InsertGetByNameUpdateDelete", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws, other := s.Workspace(t), s.Workspace(t)
		waba := Unique("waba")
		a := tpl(ws, waba, "order_update")
		require.NoError(t, s.Store.Insert(ctx, a))
		got, err := s.Store.Get(ctx, ws, a.ID, false)
		require.NoError(t, err)
		same(t, a, got)
		got, err = s.Store.ByName(ctx, ws, waba, "order_update", "en_US", true)
		require.NoError(t, err)
		same(t, a, got)
		_, err = s.Store.Get(ctx, other, a.ID, false)
		require.True(t, domain.IsKind(err, domain.KindNotFound), "another workspace's template is not found")
		_, err = s.Store.ByName(ctx, ws, waba, "order_update", "es", false)
		require.True(t, domain.IsKind(err, domain.KindNotFound))

		dup := tpl(ws, waba, "order_update")
		require.True(t, domain.IsKind(s.Store.Insert(ctx, dup), domain.KindConflict), "name and language exist on the WABA")
		dup.Language = "es"
		require.NoError(t, s.Store.Insert(ctx, dup), "another language is another template")

		later := at.Add(time.Hour)
		a.Status, a.RejectedReason, a.QualityRating, a.Category = domain.TemplateRejected, "INVALID_FORMAT", "GREEN", domain.CategoryMarketing
		a.StatusAt, a.QualityAt, a.CategoryAt, a.UpdatedAt = &later, &later, &later, later
		a.ParameterFormat, a.MetaTemplateID = domain.ParametersNamed, "777"
		a.Components = []domain.TemplateComponent{{Type: "BODY", Text: "Hi {{name}}"}}
		require.NoError(t, s.Store.Update(ctx, a))
		got, err = s.Store.Get(ctx, ws, a.ID, false)
		require.NoError(t, err)
		same(t, a, got)

		require.NoError(t, s.Store.Delete(ctx, ws, a.ID))
		_, err = s.Store.Get(ctx, ws, a.ID, false)
		require.True(t, domain.IsKind(err, domain.KindNotFound))
	})

	t.Run("ListFiltersAndPages", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws, other := s.Workspace(t), s.Workspace(t)
		w1, w2 := Unique("waba"), Unique("waba")
		var ids []domain.ID
		for i := range 5 {
			x := tpl(ws, w1, fmt.Sprintf("t%d", i))
			if i%2 == 1 {
				x.WABAID, x.Status, x.Category = w2, domain.TemplateApproved, domain.CategoryMarketing
			}
			require.NoError(t, s.Store.Insert(ctx, x))
			ids = append([]domain.ID{x.ID}, ids...) // newest first
		}
		require.NoError(t, s.Store.Insert(ctx, tpl(other, Unique("waba"), "t0")))
		list := func(f templates.Filter, limit int) []domain.ID {
			got, err := s.Store.List(ctx, ws, f, limit)
			require.NoError(t, err)
			out := make([]domain.ID, len(got))
			for i, x := range got {
				out[i] = x.ID
			}
			return out
		}
		require.Equal(t, ids, list(templates.Filter{}, 10), "newest first, only the workspace's")
		require.Equal(t, ids[:2], list(templates.Filter{}, 2))
		require.Equal(t, ids[2:4], list(templates.Filter{Cursor: ids[1]}, 2), "below the cursor")
		require.Equal(t, []domain.ID{ids[1], ids[3]}, list(templates.Filter{Status: domain.TemplateApproved}, 10))
		require.Equal(t, []domain.ID{ids[1], ids[3]}, list(templates.Filter{WABAID: w2}, 10))
		require.Equal(t, []domain.ID{ids[0], ids[2], ids[4]}, list(templates.Filter{Category: domain.CategoryUtility}, 10))
		require.Equal(t, []domain.ID{ids[2]}, list(templates.Filter{Name: "t2", Language: "en_US"}, 10))
		require.Empty(t, list(templates.Filter{Language: "es"}, 10))

		all, err := s.Store.ListWABA(ctx, ws, w1, false)
		require.NoError(t, err)
		require.Len(t, all, 3)
		none, err := s.Store.ListWABA(ctx, other, w1, true)
		require.NoError(t, err)
		require.Empty(t, none)
	})

	t.Run("Numbers", func(t *testing.T) {
		t.Parallel()
		s := newSubject(t)
		ws, other := s.Workspace(t), s.Workspace(t)
		w1, w2, w3 := "1"+Unique(""), "2"+Unique(""), "3"+Unique("")
		first := s.Number(t, ws, w1, domain.NumberConnected)
		s.Number(t, ws, w1, domain.NumberConnected)
		s.Number(t, ws, w2, domain.NumberConnected)
		s.Number(t, ws, w3, domain.NumberConnecting)
		s.Number(t, other, Unique("9"), domain.NumberConnected)
		got, err := s.Numbers.WABAs(ctx, ws)
		require.NoError(t, err)
		require.Equal(t, []string{w1, w2}, got, "distinct, sorted, connected only")
		p, err := s.Numbers.ConnectedNumber(ctx, ws, w1)
		require.NoError(t, err)
		require.Equal(t, first.ID, p.ID, "the oldest")
		_, err = s.Numbers.ConnectedNumber(ctx, ws, w3)
		require.True(t, domain.IsKind(err, domain.KindNotConnected))
		_, err = s.Numbers.ConnectedNumber(ctx, other, w1)
		require.True(t, domain.IsKind(err, domain.KindNotConnected))
		all, err := s.Numbers.AllWABAs(ctx)
		require.NoError(t, err)
		require.Contains(t, all, templates.WABA{WorkspaceID: ws, WABAID: w1})
		require.Contains(t, all, templates.WABA{WorkspaceID: ws, WABAID: w2})
		require.NotContains(t, all, templates.WABA{WorkspaceID: ws, WABAID: w3})
	})
}
