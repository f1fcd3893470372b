package contacts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/contacts/contactstest"
	"github.com/wabaplatform/waba/application/pagetest"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

type testBundle struct {
	svc *contacts.Service
	db  *contactstest.Memory
	ws  domain.ID
	// members of ws: an owner, two agents and a viewer
	owner, agent, agent2, viewer domain.Caller
	ownerID, agentID, agent2ID   domain.ID
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := contactstest.NewMemory()
	b := &testBundle{svc: contacts.NewService(db, db.Store(), policy), db: db, ws: domain.NewID()}
	b.ownerID, b.agentID, b.agent2ID = domain.NewID(), domain.NewID(), domain.NewID()
	viewerID := domain.NewID()
	for _, id := range []domain.ID{b.ownerID, b.agentID, b.agent2ID, viewerID} {
		db.AddMember(b.ws, id)
	}
	caller := func(id domain.ID, r access.Role) domain.Caller {
		return domain.Caller{Type: domain.ActorUser, ID: id, WorkspaceID: b.ws, Role: r, Meta: domain.RequestMeta{RequestID: "req"}}
	}
	b.owner, b.agent, b.agent2, b.viewer = caller(b.ownerID, access.Owner), caller(b.agentID, access.Agent),
		caller(b.agent2ID, access.Agent), caller(viewerID, access.Viewer)
	return b
}

func ptr[T any](v T) *T { return &v }

func requireKind(t *testing.T, want domain.Kind, err error) {
	t.Helper()
	require.Equal(t, want, domain.KindOf(err), "got %v", err)
}

// requireFields checks err is a validation error naming exactly these fields.
func requireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	var de *domain.Error
	require.ErrorAs(t, err, &de)
	require.Equal(t, domain.KindValidation, de.Kind)
	got := make([]string, len(de.Fields))
	for i, f := range de.Fields {
		got[i] = f.Field
	}
	require.ElementsMatch(t, fields, got)
}

func (b *testBundle) create(t *testing.T, c domain.Caller, phone string, in contacts.Input) domain.Contact {
	t.Helper()
	in.Phone = &phone
	ct, err := b.svc.Create(context.Background(), c, in)
	require.NoError(t, err)
	return ct
}

// stored is the committed contact id of the bundle's workspace.
func (b *testBundle) stored(t *testing.T, id domain.ID) domain.Contact {
	t.Helper()
	c, ok := b.db.Contact(b.ws, id)
	require.True(t, ok, "contact %s", id)
	return c
}

func (b *testBundle) actions() []string {
	var out []string
	for _, e := range b.db.Audit() {
		out = append(out, e.Action)
	}
	return out
}

func TestCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("NormalizesAndAudits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		ct, err := b.svc.Create(ctx, b.owner, contacts.Input{
			Phone: ptr("+1 (415) 555-0100"), Name: ptr("  Ann  "),
			Tags: ptr([]string{" vip ", "vip", "lead"}), Attributes: ptr(map[string]any{"plan": "gold"}),
		})
		require.NoError(t, err)
		require.Equal(t, "+14155550100", ct.Phone)
		require.Equal(t, "14155550100", ct.WaID)
		require.Equal(t, "Ann", ct.Name)
		require.Equal(t, []string{"vip", "lead"}, ct.Tags)
		require.Equal(t, map[string]any{"plan": "gold"}, ct.Attributes)
		require.Nil(t, ct.AssignedTo, "an owner's contact is not assigned to anyone by default")
		require.Equal(t, b.ws, ct.WorkspaceID)

		require.Equal(t, ct, b.stored(t, ct.ID))
		audit := b.db.Audit()
		require.Len(t, audit, 1)
		e := audit[0]
		require.Equal(t, "contact.created", e.Action)
		require.Equal(t, "contact", e.ResourceType)
		require.Equal(t, ct.ID.String(), e.ResourceID)
		require.Equal(t, b.ws, e.WorkspaceID)
		require.Equal(t, map[string]any{"phone": "+14155550100"}, e.Details)
	})

	t.Run("DefaultsAreEmptyNotNil", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct := b.create(t, b.owner, "919812345678", contacts.Input{})
		require.Equal(t, "+919812345678", ct.Phone)
		require.NotNil(t, ct.Tags)
		require.NotNil(t, ct.Attributes)
	})

	t.Run("EveryInvalidFieldAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tooManyTags := make([]string, domain.MaxTags+1)
		for i := range tooManyTags {
			tooManyTags[i] = "t"
		}

		_, err := b.svc.Create(ctx, b.owner, contacts.Input{
			Phone:      ptr("12345"),
			Name:       ptr(strings.Repeat("n", domain.MaxContactNameRunes+1)),
			Tags:       &tooManyTags,
			Attributes: ptr(map[string]any{"blob": strings.Repeat("x", domain.MaxAttributesBytes)}),
		})
		requireFields(t, err, "phone", "name", "tags", "attributes")
		require.Zero(t, b.db.Contacts())
	})

	t.Run("PhoneRules", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, p := range []*string{nil, ptr(""), ptr("   "), ptr("not a phone"), ptr("+1")} {
			_, err := b.svc.Create(ctx, b.owner, contacts.Input{Phone: p})
			requireFields(t, err, "phone")
		}
		_, err := b.svc.Create(ctx, b.owner, contacts.Input{Phone: ptr("+14155550100"), Tags: ptr([]string{" "})})
		requireFields(t, err, "tags")
	})

	t.Run("DuplicatePhoneIsContactExists", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.create(t, b.owner, "+14155550100", contacts.Input{})

		_, err := b.svc.Create(ctx, b.owner, contacts.Input{Phone: ptr("1-415-555-0100")})
		requireKind(t, domain.KindContactExists, err)
		require.Equal(t, []string{"contact.created"}, b.actions(), "the failed create leaves no audit entry")
	})

	t.Run("AgentsContactIsAssignedToThem", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		ct := b.create(t, b.agent, "+14155550101", contacts.Input{})
		require.NotNil(t, ct.AssignedTo)
		require.Equal(t, b.agentID, *ct.AssignedTo)

		got, err := b.svc.Get(ctx, b.agent, ct.ID)
		require.NoError(t, err, "the agent can still see what they created")
		require.Equal(t, ct.ID, got.ID)
	})

	t.Run("AssigningNeedsPermissionAndMembership", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		// Agents lack contacts.assign, even to assign to themselves explicitly.
		_, err := b.svc.Create(ctx, b.agent, contacts.Input{Phone: ptr("+14155550102"), AssignedTo: ptr(b.agent2ID)})
		requireKind(t, domain.KindForbidden, err)

		_, err = b.svc.Create(ctx, b.owner, contacts.Input{Phone: ptr("+14155550102"), AssignedTo: ptr(domain.NewID())})
		requireFields(t, err, "assigned_to")
		require.Zero(t, b.db.Contacts())

		ct := b.create(t, b.owner, "+14155550102", contacts.Input{AssignedTo: ptr(b.agent2ID)})
		require.Equal(t, b.agent2ID, *ct.AssignedTo)
	})

	t.Run("ViewerCannotCreate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.svc.Create(ctx, b.viewer, contacts.Input{Phone: ptr("+14155550100")})
		requireKind(t, domain.KindForbidden, err)
	})
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AgentViewIsPassedToTheStore", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		mine := b.create(t, b.agent, "+14155550100", contacts.Input{})
		b.create(t, b.agent2, "+14155550101", contacts.Input{})
		b.create(t, b.owner, "+14155550102", contacts.Input{})

		p, err := b.svc.List(ctx, b.agent, contacts.Filter{})
		require.NoError(t, err)
		call := b.db.LastList()
		require.NotNil(t, call.View.AssignedTo)
		require.Equal(t, b.agentID, *call.View.AssignedTo)
		require.Len(t, p.Items, 1)
		require.Equal(t, mine.ID, p.Items[0].ID)

		for _, c := range []domain.Caller{b.owner, b.viewer} {
			p, err = b.svc.List(ctx, c, contacts.Filter{})
			require.NoError(t, err)
			require.Nil(t, b.db.LastList().View.AssignedTo, "%s sees every contact", c.Role)
			require.Len(t, p.Items, 3)
		}
	})

	t.Run("PhoneFilterIsNormalized", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct := b.create(t, b.owner, "+14155550100", contacts.Input{})

		p, err := b.svc.List(ctx, b.owner, contacts.Filter{Phone: "1 (415) 555-0100"})
		require.NoError(t, err)
		require.Equal(t, "+14155550100", b.db.LastList().Filter.Phone)
		require.Len(t, p.Items, 1)
		require.Equal(t, ct.ID, p.Items[0].ID)

		calls := len(b.db.Lists())
		p, err = b.svc.List(ctx, b.owner, contacts.Filter{Phone: "garbage"})
		require.NoError(t, err, "a phone that cannot be a number matches nothing")
		require.NotNil(t, p.Items)
		require.Empty(t, p.Items)
		require.Nil(t, p.NextCursor)
		require.Len(t, b.db.Lists(), calls, "and does not reach the store")
	})

	t.Run("PagesWithLimitPlusOne", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range 5 {
			b.create(t, b.owner, "+1415555010"+string(rune('0'+i)), contacts.Input{})
		}

		seen := pagetest.Walk(t, func(cursor domain.ID, limit int) (domain.Page[domain.Contact], error) {
			return b.svc.List(ctx, b.owner, contacts.Filter{Limit: limit, Cursor: cursor})
		}, func(c domain.Contact) domain.ID { return c.ID }, func() int { return b.db.LastList().Limit })
		require.Len(t, seen, 5)
		for i := 1; i < len(seen); i++ {
			require.Greater(t, seen[i-1].String(), seen[i].String(), "newest first, no repeats")
		}

		_, err := b.svc.List(ctx, b.owner, contacts.Filter{})
		require.NoError(t, err)
		require.Equal(t, 51, b.db.LastList().Limit, "default page size is 50")

		p, err := b.svc.List(ctx, b.owner, contacts.Filter{Limit: 5})
		require.NoError(t, err)
		require.Len(t, p.Items, 5)
		require.Nil(t, p.NextCursor, "exactly a full page has no next page")
	})
}

func TestGetUpdateDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AgentCannotReachAnothersContact", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		theirs := b.create(t, b.agent2, "+14155550100", contacts.Input{})

		_, err := b.svc.Get(ctx, b.agent, theirs.ID)
		requireKind(t, domain.KindNotFound, err)
		require.Equal(t, b.agentID, *b.db.LastGetView().AssignedTo)
		_, err = b.svc.Update(ctx, b.agent, theirs.ID, contacts.Input{Name: ptr("Mine now")})
		requireKind(t, domain.KindNotFound, err)
		requireKind(t, domain.KindNotFound, b.svc.Delete(ctx, b.agent, theirs.ID))
		_, err = b.svc.SetOptOut(ctx, b.agent, theirs.ID, true)
		requireKind(t, domain.KindNotFound, err)

		got, err := b.svc.Get(ctx, b.agent2, theirs.ID)
		require.NoError(t, err)
		require.Equal(t, "", got.Name)
		require.False(t, got.OptedOut)
	})

	t.Run("AnotherWorkspaceIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct := b.create(t, b.owner, "+14155550100", contacts.Input{})
		other := b.owner
		other.WorkspaceID = domain.NewID()

		_, err := b.svc.Get(ctx, other, ct.ID)
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct := b.create(t, b.owner, "+14155550100", contacts.Input{Name: ptr("Old"), AssignedTo: ptr(b.agentID)})

		_, err := b.svc.Update(ctx, b.owner, ct.ID, contacts.Input{Phone: ptr("+14155550199")})
		requireFields(t, err, "phone")

		got, err := b.svc.Update(ctx, b.agent, ct.ID, contacts.Input{Name: ptr(" New "), Tags: ptr([]string{"a"})})
		require.NoError(t, err)
		require.Equal(t, "New", got.Name)
		require.Equal(t, []string{"a"}, got.Tags)
		require.Equal(t, "+14155550100", got.Phone)
		require.False(t, got.UpdatedAt.Before(ct.UpdatedAt))

		// Agents may not reassign; a manager may, and NilID unassigns.
		_, err = b.svc.Update(ctx, b.agent, ct.ID, contacts.Input{AssignedTo: ptr(b.agent2ID)})
		requireKind(t, domain.KindForbidden, err)
		got, err = b.svc.Update(ctx, b.owner, ct.ID, contacts.Input{AssignedTo: ptr(domain.NilID)})
		require.NoError(t, err)
		require.Nil(t, got.AssignedTo)

		require.Equal(t, got, b.stored(t, ct.ID))
		audit := b.db.Audit()
		e := audit[len(audit)-1]
		require.Equal(t, "contact.updated", e.Action)
		require.Equal(t, map[string]any{"fields": []string{"assigned_to"}}, e.Details)
		require.Equal(t, map[string]any{"fields": []string{"name", "tags"}}, audit[len(audit)-2].Details)
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct := b.create(t, b.owner, "+14155550100", contacts.Input{})

		requireKind(t, domain.KindForbidden, b.svc.Delete(ctx, b.viewer, ct.ID))
		require.NoError(t, b.svc.Delete(ctx, b.owner, ct.ID))
		require.Zero(t, b.db.Contacts())
		require.Equal(t, []string{"contact.created", "contact.deleted"}, b.actions())
		requireKind(t, domain.KindNotFound, b.svc.Delete(ctx, b.owner, ct.ID))
	})
}

func TestSetOptOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OptOutAndBackInAuditedOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct := b.create(t, b.agent, "+14155550100", contacts.Input{})

		got, err := b.svc.SetOptOut(ctx, b.agent, ct.ID, true)
		require.NoError(t, err)
		require.True(t, got.OptedOut)
		require.NotNil(t, got.OptedOutAt)
		require.WithinDuration(t, time.Now(), *got.OptedOutAt, time.Minute)
		require.Equal(t, domain.OptOutAPI, got.OptOutSource)
		require.Equal(t, got, b.stored(t, ct.ID))

		again, err := b.svc.SetOptOut(ctx, b.agent, ct.ID, true)
		require.NoError(t, err, "opting out twice is not an error")
		require.Equal(t, got.OptedOutAt, again.OptedOutAt, "and keeps the first time")
		require.Equal(t, []string{"contact.created", "contact.opted_out"}, b.actions())

		in, err := b.svc.SetOptOut(ctx, b.owner, ct.ID, false)
		require.NoError(t, err)
		require.False(t, in.OptedOut)
		require.Nil(t, in.OptedOutAt)
		require.Empty(t, in.OptOutSource)
		_, err = b.svc.SetOptOut(ctx, b.owner, ct.ID, false)
		require.NoError(t, err)
		require.Equal(t, []string{"contact.created", "contact.opted_out", "contact.opted_in"}, b.actions())

		audit := b.db.Audit()
		for _, e := range audit[1:] {
			require.Equal(t, ct.ID.String(), e.ResourceID)
			require.Equal(t, map[string]any{"source": "api"}, e.Details)
		}
		require.Equal(t, b.agentID.String(), audit[1].ActorID)
		require.Equal(t, b.ownerID.String(), audit[2].ActorID)

		// The inbox feed hears of it as of a keyword opt-out, once each way.
		var feed []domain.Occurrence
		for _, o := range b.db.Events() {
			if o.Event.Subject().ContactID != nil && o.Event.Kind() != domain.EventContactCreated {
				feed = append(feed, o)
			}
		}
		require.Len(t, feed, 2)
		for i, kind := range []domain.EventKind{domain.EventContactOptedOut, domain.EventContactOptedIn} {
			s := feed[i].Event.Subject()
			require.Equal(t, kind, feed[i].Event.Kind())
			require.Equal(t, ct.ID, *s.ContactID)
			require.Equal(t, b.ws, feed[i].WorkspaceID())
			require.Equal(t, map[string]any{"source": "api"}, s.Details)
		}
	})

	t.Run("OnlyTheCustomerLiftsTheirOwn", func(t *testing.T) {
		t.Parallel()
		for _, own := range []domain.Contact{
			{OptedOut: true, OptOutSource: domain.OptOutKeyword},
			{MarketingOptedOut: true},
		} {
			b := setup(t)
			ct := b.create(t, b.owner, "+14155550100", contacts.Input{})
			ct.OptedOut, ct.OptOutSource, ct.MarketingOptedOut = own.OptedOut, own.OptOutSource, own.MarketingOptedOut
			b.db.Put(ct)
			_, err := b.svc.SetOptOut(ctx, b.owner, ct.ID, false)
			requireKind(t, domain.KindConflict, err)
			require.Equal(t, ct, b.stored(t, ct.ID))
			require.Equal(t, []string{"contact.created"}, b.actions())
		}
	})

	t.Run("OutlivesTheContact", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct := b.create(t, b.owner, "+14155550100", contacts.Input{})
		out, err := b.svc.SetOptOut(ctx, b.owner, ct.ID, true)
		require.NoError(t, err)
		require.NoError(t, b.svc.Delete(ctx, b.owner, ct.ID))
		again := b.create(t, b.owner, "+14155550100", contacts.Input{})
		require.True(t, again.OptedOut, "a contact created later with the number starts opted out")
		require.Equal(t, out.OptedOutAt, again.OptedOutAt)
		require.Equal(t, domain.OptOutAPI, again.OptOutSource)
		in, err := b.svc.SetOptOut(ctx, b.owner, again.ID, false)
		require.NoError(t, err, "staff's own opt-out is staff's to lift")
		require.False(t, in.OptedOut)
		require.NoError(t, b.svc.Delete(ctx, b.owner, again.ID))
		require.False(t, b.create(t, b.owner, "+14155550100", contacts.Input{}).OptedOut, "an opt-in lifts the suppression")
	})

	t.Run("ViewerIsForbidden", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct := b.create(t, b.owner, "+14155550100", contacts.Input{})
		_, err := b.svc.SetOptOut(ctx, b.viewer, ct.ID, true)
		requireKind(t, domain.KindForbidden, err)
		require.False(t, b.stored(t, ct.ID).OptedOut)
	})

	t.Run("UnknownContact", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.svc.SetOptOut(ctx, b.owner, domain.NewID(), true)
		requireKind(t, domain.KindNotFound, err)
	})
}

func TestViewAllows(t *testing.T) {
	t.Parallel()
	ann, bob := domain.NewID(), domain.NewID()
	mine, theirs, nobodys := domain.Contact{AssignedTo: &ann}, domain.Contact{AssignedTo: &bob}, domain.Contact{}
	all := contacts.ViewOf(domain.Caller{ID: ann, Role: access.Owner})
	require.True(t, all.Allows(mine) && all.Allows(theirs) && all.Allows(nobodys), "an owner sees every contact")
	agent := contacts.ViewOf(domain.Caller{ID: ann, Role: access.Agent})
	require.True(t, agent.Allows(mine))
	require.False(t, agent.Allows(theirs), "another agent's contact")
	require.False(t, agent.Allows(nobodys), "an unassigned contact")
}
