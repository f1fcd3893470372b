package contacts_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
)

func TestApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ChangesInOrderWithOneEventPerContact", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ann := b.create(t, b.owner, "+14155550100", contacts.Input{Tags: ptr([]string{"lead"}),
			Attributes: ptr(map[string]any{"plan": "gold"})})
		bob := b.create(t, b.owner, "+14155550101", contacts.Input{})
		before := len(b.db.Events())

		refused, err := b.svc.Apply(ctx, b.owner, []contacts.Change{
			{ContactID: ann.ID, Tag: "vip"},
			{ContactID: bob.ID, Key: "plan", Value: "silver"},
			{ContactID: ann.ID, Tag: "vip"},                   // twice in the batch: once
			{ContactID: ann.ID, Key: "plan", Value: "gold"},   // already so
			{ContactID: ann.ID, Key: "city", Value: "Pune"},   // a second field of ann's
			{ContactID: domain.NewID(), Tag: "vip"},           // no such contact: skipped
			{ContactID: bob.ID, Key: "plan", Value: "bronze"}, // the last value wins
		})
		require.NoError(t, err)
		require.Empty(t, refused)
		require.Equal(t, []string{"lead", "vip"}, b.stored(t, ann.ID).Tags)
		require.Equal(t, map[string]any{"plan": "gold", "city": "Pune"}, b.stored(t, ann.ID).Attributes)
		require.Equal(t, map[string]any{"plan": "bronze"}, b.stored(t, bob.ID).Attributes)

		evs := b.db.Events()[before:]
		require.Len(t, evs, 2, "one contact.updated per contact changed")
		require.Equal(t, domain.ContactUpdated{ContactID: ann.ID, Fields: []string{"tags", "attributes"}}, evs[0].Event)
		require.Equal(t, domain.ContactUpdated{ContactID: bob.ID, Fields: []string{"attributes"}}, evs[1].Event)

		// Nothing left to change: no write, no event.
		_, err = b.svc.Apply(ctx, b.owner, []contacts.Change{{ContactID: ann.ID, Tag: "vip"}})
		require.NoError(t, err)
		require.Len(t, b.db.Events(), before+2)
	})

	t.Run("RefusesWhatBreaksALimitAndMakesTheRest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tags := make([]string, domain.MaxTags)
		for i := range tags {
			tags[i] = fmt.Sprint("t", i)
		}
		full := b.create(t, b.owner, "+14155550100", contacts.Input{Tags: &tags})
		big := make([]byte, domain.MaxAttributesBytes)
		for i := range big {
			big[i] = 'x'
		}
		refused, err := b.svc.Apply(ctx, b.owner, []contacts.Change{
			{ContactID: full.ID, Tag: "one-too-many"},
			{ContactID: full.ID, Key: "huge", Value: string(big)},
			{ContactID: full.ID, Key: "ok", Value: true},
		})
		require.NoError(t, err)
		require.Len(t, refused, 2)
		require.Equal(t, "one-too-many", refused[0].Tag)
		require.Equal(t, "tags: at most 50 tags", refused[0].Reason)
		require.Equal(t, "huge", refused[1].Key)
		require.Equal(t, "attributes: must be at most 16 KiB of JSON", refused[1].Reason)
		got := b.stored(t, full.ID)
		require.Len(t, got.Tags, domain.MaxTags)
		require.Equal(t, map[string]any{"ok": true}, got.Attributes)
	})

	t.Run("InsideTheCallersViewAndPermissions", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		theirs := b.create(t, b.agent2, "+14155550100", contacts.Input{})
		_, err := b.svc.Apply(ctx, b.agent, []contacts.Change{{ContactID: theirs.ID, Tag: "vip"}})
		require.NoError(t, err)
		require.Empty(t, b.stored(t, theirs.ID).Tags, "another agent's contact is not changed")

		_, err = b.svc.Apply(ctx, b.viewer, []contacts.Change{{ContactID: theirs.ID, Tag: "vip"}})
		requireKind(t, domain.KindForbidden, err)
	})
}
