package onboarding_test

import (
	"bytes"
	"context"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/onboarding"
	"github.com/wabaplatform/waba/application/pagetest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// readers lets every role but viewer read numbers, and nobody do anything else.
var readers = authztest.Grants{access.Owner: {access.WhatsAppRead}, access.Manager: {access.WhatsAppRead},
	access.Agent: {access.WhatsAppRead}}

// fakeNumbers is an onboarding.Store whose ListPage serves numbers; the other methods are
// not used by List and panic through the nil embedded interface.
type fakeNumbers struct {
	onboarding.Store
	numbers []domain.PhoneNumber
	limits  []int
}

func (f *fakeNumbers) ListPage(_ context.Context, ws, after domain.ID, limit int) ([]domain.PhoneNumber, error) {
	f.limits = append(f.limits, limit)
	var out []domain.PhoneNumber
	for _, p := range f.numbers {
		if p.WorkspaceID == ws && (after.IsZero() || bytes.Compare(p.ID[:], after[:]) > 0) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0 })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeNumbers) lastLimit() int { return f.limits[len(f.limits)-1] }

func TestListPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ws := domain.NewID()
	store := &fakeNumbers{}
	for range 5 {
		store.numbers = append(store.numbers, domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: ws})
	}
	store.numbers = append(store.numbers, domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: domain.NewID()})
	svc := onboarding.NewService(nil, store, nil, nil, readers)
	c := domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: access.Agent}

	seen := pagetest.Walk(t, func(cursor domain.ID, limit int) (domain.Page[domain.PhoneNumber], error) {
		return svc.List(ctx, c, limit, cursor)
	}, func(n domain.PhoneNumber) domain.ID { return n.ID }, store.lastLimit)
	want := make([]domain.ID, 5)
	for i := range want {
		want[i] = store.numbers[i].ID
	}
	require.Equal(t, want, seen, "oldest first, each once, only the workspace's")

	_, err := svc.List(ctx, c, 0, domain.NilID)
	require.NoError(t, err)
	require.Equal(t, 51, store.lastLimit(), "default page size is 50")
	p, err := svc.List(ctx, c, 5, domain.NilID)
	require.NoError(t, err)
	require.Len(t, p.Items, 5)
	require.Nil(t, p.NextCursor, "exactly a full page has no next page")

	calls := len(store.limits)
	c.Role = access.Viewer
	_, err = svc.List(ctx, c, 0, domain.NilID)
	require.Equal(t, domain.KindForbidden, domain.KindOf(err))
	require.Len(t, store.limits, calls, "a refused caller does not reach the store")
}
