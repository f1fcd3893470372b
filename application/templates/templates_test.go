package templates_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/application/templates/templatestest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// fakeGraph is Meta as far as templates see it.
type fakeGraph struct {
	mu      sync.Mutex
	created []domain.TemplateDraft
	deleted []string
	listed  []domain.Template
	err     error
}

func (g *fakeGraph) CreateTemplate(_ context.Context, token, wabaID string, d domain.TemplateDraft) (domain.Template, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return domain.Template{}, g.err
	}
	g.created = append(g.created, d)
	return domain.Template{MetaTemplateID: "9001", Status: domain.TemplatePending, Category: d.Category}, nil
}

func (g *fakeGraph) DeleteTemplate(_ context.Context, token, wabaID, name, id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.deleted = append(g.deleted, name+"/"+id)
	return g.err
}

func (g *fakeGraph) ListTemplates(context.Context, string, string) ([]domain.Template, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.listed, g.err
}

type openVault struct{}

func (openVault) Open(_ context.Context, s domain.Sealed, _ domain.SecretBinding) ([]byte, error) {
	return s.Ciphertext, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testBundle struct {
	svc   *templates.Service
	db    *templatestest.Memory
	graph *fakeGraph
	cat   *templates.Catalogue
	clock *clock
	owner domain.Caller
	agent domain.Caller
	waba  string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := templatestest.NewMemory()
	c := &clock{t: time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)}
	ws := domain.NewID()
	b := &testBundle{db: db, graph: &fakeGraph{}, clock: c, waba: "1001",
		owner: domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: access.Owner},
		agent: domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: access.Agent}}
	db.AddNumber(domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: "2002", WABAID: b.waba,
		Status: domain.NumberConnected, Token: domain.Sealed{Ciphertext: []byte("token")}})
	b.cat = templates.NewCatalogue(db, c.now)
	b.svc = templates.NewService(templates.Deps{Tx: db, Store: db, Numbers: db, Graph: b.graph, Vault: openVault{},
		Authz:     authztest.Grants{access.Owner: {access.TemplatesRead, access.TemplatesManage}, access.Agent: {access.TemplatesRead}},
		Catalogue: b.cat, Clock: c.now})
	return b
}

func draft(name string) templates.CreateInput {
	return templates.CreateInput{TemplateDraft: domain.TemplateDraft{Name: name, Language: "en_US", Category: "utility",
		Components: []domain.TemplateComponent{{Type: "body", Text: "Your order has shipped"}}}}
}

func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	require.Equal(t, domain.KindValidation, de.Kind, "%v", err)
	var out []string
	for _, f := range de.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("SubmitsStoresAndRecords", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got, err := b.svc.Create(ctx, b.owner, draft("order_shipped"))
		require.NoError(t, err)
		require.Equal(t, b.waba, got.WABAID, "the workspace's only WABA")
		require.Equal(t, "9001", got.MetaTemplateID)
		require.Equal(t, domain.TemplatePending, got.Status)
		require.Equal(t, domain.CategoryUtility, got.Category)
		require.Equal(t, domain.ParametersPositional, got.ParameterFormat)
		require.Equal(t, "BODY", got.Components[0].Type, "normalized")
		stored, err := b.svc.Get(ctx, b.agent, got.ID)
		require.NoError(t, err)
		require.Equal(t, got.ID, stored.ID)
		evs := b.db.Events()
		require.Len(t, evs, 1)
		require.Equal(t, domain.TemplateCreated{TemplateID: got.ID, WABAID: b.waba, Name: "order_shipped", Language: "en_US",
			Category: domain.CategoryUtility, Status: domain.TemplatePending}, evs[0].Event)
	})

	t.Run("InvalidIsRefusedBeforeMeta", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := draft("Bad Name")
		in.Category = "PROMO"
		_, err := b.svc.Create(ctx, b.owner, in)
		require.ElementsMatch(t, []string{"name", "category"}, fieldsOf(t, err))
		in = draft("fine")
		in.WABAID = "404"
		_, err = b.svc.Create(ctx, b.owner, in)
		require.Equal(t, []string{"waba_id"}, fieldsOf(t, err))
		require.Empty(t, b.graph.created, "Meta was not asked")
	})

	t.Run("SeveralWABAsNeedOne", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.db.AddNumber(domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: b.owner.WorkspaceID, WABAID: "1002", Status: domain.NumberConnected})
		_, err := b.svc.Create(ctx, b.owner, draft("x"))
		require.Equal(t, []string{"waba_id"}, fieldsOf(t, err))
		in := draft("x")
		in.WABAID = "1002"
		got, err := b.svc.Create(ctx, b.owner, in)
		require.NoError(t, err)
		require.Equal(t, "1002", got.WABAID)
	})

	t.Run("DuplicateIsAConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.svc.Create(ctx, b.owner, draft("dup"))
		require.NoError(t, err)
		_, err = b.svc.Create(ctx, b.owner, draft("dup"))
		require.True(t, domain.IsKind(err, domain.KindConflict), "%v", err)
		require.Len(t, b.graph.created, 1)
	})

	t.Run("MetaRefusalInMetasWords", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.graph.err = &domain.MetaError{Class: domain.MetaFinal, Code: 100, Title: "Invalid template name", Detail: "Template name is taken."}
		_, err := b.svc.Create(ctx, b.owner, draft("refused"))
		require.True(t, domain.IsKind(err, domain.KindValidation))
		require.Contains(t, err.Error(), "Template name is taken.")
		b.graph.err = &domain.MetaError{Class: domain.MetaRetry, Code: 2}
		_, err = b.svc.Create(ctx, b.owner, draft("refused"))
		require.True(t, domain.IsKind(err, domain.KindUnavailable))
		require.Empty(t, b.db.Events())
	})

	t.Run("AgentsMayNotManage", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.svc.Create(ctx, b.agent, draft("x"))
		require.True(t, domain.IsKind(err, domain.KindForbidden))
		require.True(t, domain.IsKind(b.svc.RequestSync(ctx, b.agent), domain.KindForbidden))
	})
}

func TestDeleteAtMetaToo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	got, err := b.svc.Create(ctx, b.owner, draft("bye"))
	require.NoError(t, err)
	_, err = b.cat.Template(ctx, b.owner.WorkspaceID, b.waba, "bye", "en_US")
	require.NoError(t, err)
	require.NoError(t, b.svc.Delete(ctx, b.owner, got.ID))
	require.Equal(t, []string{"bye/9001"}, b.graph.deleted)
	_, err = b.svc.Get(ctx, b.owner, got.ID)
	require.True(t, domain.IsKind(err, domain.KindNotFound))
	_, err = b.cat.Template(ctx, b.owner.WorkspaceID, b.waba, "bye", "en_US")
	require.True(t, domain.IsKind(err, domain.KindNotFound), "invalidated at once")
	evs := b.db.Events()
	require.Equal(t, domain.TemplateDeleted{TemplateID: got.ID, WABAID: b.waba, Name: "bye", Language: "en_US"}, evs[len(evs)-1].Event)
}

func TestSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ws := b.owner.WorkspaceID
	kept, err := b.svc.Create(ctx, b.owner, draft("kept"))
	require.NoError(t, err)
	gone, err := b.svc.Create(ctx, b.owner, draft("gone"))
	require.NoError(t, err)
	b.clock.advance(time.Minute)
	body := []domain.TemplateComponent{{Type: "BODY", Text: "hello"}}
	b.graph.listed = []domain.Template{
		{MetaTemplateID: "9001", Name: "kept", Language: "en_US", Category: domain.CategoryUtility, Status: domain.TemplateApproved,
			QualityRating: "GREEN", ParameterFormat: domain.ParametersPositional, Components: body},
		{MetaTemplateID: "9002", Name: "new_one", Language: "es", Category: domain.CategoryMarketing, Status: domain.TemplatePaused,
			ParameterFormat: domain.ParametersNamed, Components: body},
	}
	before := len(b.db.Events())
	require.NoError(t, b.svc.SyncWABA(ctx, ws, b.waba))

	got, err := b.svc.Get(ctx, b.owner, kept.ID)
	require.NoError(t, err)
	require.Equal(t, domain.TemplateApproved, got.Status)
	require.Equal(t, "GREEN", got.QualityRating)
	require.Equal(t, body, got.Components)
	_, err = b.svc.Get(ctx, b.owner, gone.ID)
	require.True(t, domain.IsKind(err, domain.KindNotFound), "Meta no longer lists it")
	added, err := b.cat.Template(ctx, ws, b.waba, "new_one", "es")
	require.NoError(t, err)
	require.Equal(t, domain.TemplatePaused, added.Status)
	require.Equal(t, domain.ParametersNamed, added.ParameterFormat)

	kinds := map[domain.EventKind]int{}
	for _, o := range b.db.Events()[before:] {
		kinds[o.Event.Kind()]++
		require.Equal(t, domain.ActorSystem, o.Actor.Type)
	}
	require.Equal(t, map[domain.EventKind]int{domain.EventTemplateStatusChanged: 1, domain.EventTemplateCreated: 1, domain.EventTemplateDeleted: 1}, kinds)

	before = len(b.db.Events())
	b.clock.advance(time.Minute)
	require.NoError(t, b.svc.SyncWABA(ctx, ws, b.waba))
	require.Len(t, b.db.Events(), before, "nothing changed, nothing recorded")

	t.Run("NeverRemovesWhatWasCreatedAfterTheRead", func(t *testing.T) {
		b := setup(t)
		b.graph.listed = nil
		fresh, err := b.svc.Create(ctx, b.owner, draft("fresh"))
		require.NoError(t, err)
		require.NoError(t, b.svc.SyncWABA(ctx, b.owner.WorkspaceID, b.waba), "read at the same instant it was created")
		_, err = b.svc.Get(ctx, b.owner, fresh.ID)
		require.NoError(t, err)
	})

	t.Run("RequestAndPeriodicQueueOnePerWABA", func(t *testing.T) {
		b := setup(t)
		require.NoError(t, b.svc.RequestSync(ctx, b.owner))
		n, err := b.svc.SyncAll(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		w := templates.WABA{WorkspaceID: b.owner.WorkspaceID, WABAID: b.waba}
		require.Equal(t, []templates.WABA{w, w}, b.db.Syncs())
	})
}

func TestReports(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ws := b.owner.WorkspaceID
	got, err := b.svc.Create(ctx, b.owner, draft("followed"))
	require.NoError(t, err)
	report := func(u domain.TemplateReport, name string) {
		t.Helper()
		require.NoError(t, b.db.InTx(ctx, func(ctx context.Context, r templates.Repos) error {
			return b.svc.InTx(r).Report(ctx, ws, b.waba, name, "en_US", u)
		}))
	}
	t0 := b.clock.now()
	report(domain.TemplateReport{At: t0.Add(2 * time.Second), Status: domain.TemplateApproved}, "followed")
	report(domain.TemplateReport{At: t0.Add(time.Second), Status: domain.TemplatePending}, "followed")
	report(domain.TemplateReport{At: t0.Add(3 * time.Second), Quality: "YELLOW"}, "followed")
	cur, err := b.svc.Get(ctx, b.owner, got.ID)
	require.NoError(t, err)
	require.Equal(t, domain.TemplateApproved, cur.Status, "the late PENDING does not regress it")
	require.Equal(t, "YELLOW", cur.QualityRating)
	var changes []domain.TemplateStatusChanged
	for _, o := range b.db.Events() {
		if ev, ok := o.Event.(domain.TemplateStatusChanged); ok {
			changes = append(changes, ev)
		}
	}
	require.Len(t, changes, 2)
	require.Equal(t, &domain.FromTo[string]{From: "PENDING", To: "APPROVED"}, changes[0].Status)
	require.Equal(t, &domain.FromTo[string]{From: "", To: "YELLOW"}, changes[1].Quality)

	report(domain.TemplateReport{At: t0, Status: domain.TemplateApproved}, "made_in_meta_tools")
	require.Equal(t, []templates.WABA{{WorkspaceID: ws, WABAID: b.waba}}, b.db.Syncs(), "an unknown template is read by a sync")
}

func TestCatalogue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	ws := b.owner.WorkspaceID
	_, err := b.svc.Create(ctx, b.owner, draft("cached"))
	require.NoError(t, err)
	_, err = b.cat.Template(ctx, ws, b.waba, "cached", "en_US")
	require.NoError(t, err)
	_, err = b.cat.Template(ctx, ws, b.waba, "other", "en_US")
	require.True(t, domain.IsKind(err, domain.KindNotFound))
	require.Equal(t, 1, b.db.ListWABACalls, "the WABA is loaded once")

	// A change made elsewhere (another instance) is seen once the entry expires.
	require.NoError(t, b.db.Insert(ctx, domain.Template{ID: domain.NewID(), WorkspaceID: ws, WABAID: b.waba, Name: "elsewhere", Language: "en_US"}))
	_, err = b.cat.Template(ctx, ws, b.waba, "elsewhere", "en_US")
	require.True(t, domain.IsKind(err, domain.KindNotFound), "still cached")
	b.clock.advance(templates.CatalogueTTL)
	_, err = b.cat.Template(ctx, ws, b.waba, "elsewhere", "en_US")
	require.NoError(t, err)
	require.Equal(t, 2, b.db.ListWABACalls)

	var wg sync.WaitGroup
	b.cat.Invalidate(ws, b.waba)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.cat.Template(ctx, ws, b.waba, "cached", "en_US")
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, b.db.ListWABACalls, 3+7, "concurrent readers share loads")
}
