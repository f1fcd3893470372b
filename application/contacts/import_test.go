package contacts_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
)

func TestImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	importCSV := func(t *testing.T, b *testBundle, c domain.Caller, text string) (contacts.ImportResult, error) {
		t.Helper()
		return b.svc.Import(ctx, c, strings.NewReader(text))
	}

	t.Run("WritesCountsAndAuditsOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		known := b.create(t, b.owner, "+14155550100", contacts.Input{Name: ptr("Old")})
		big := strings.Repeat("x", domain.MaxAttributesBytes/2+100)
		full := b.create(t, b.owner, "+14155550109", contacts.Input{Attributes: ptr(map[string]any{"a": big})})

		res, err := importCSV(t, b, b.owner, "phone,name,tags,note\n"+
			"+14155550100,Newer,,\n"+ // 2: superseded by line 8
			"bad,x,,\n"+ // 3: refused by the reader
			"+14155550101,Bea,vip,hi\n"+ // 4: created
			"+14155550109,,,"+big+"\n"+ // 5: refused by the store
			"+14155550102,Cy,,\n"+ // 6: superseded by line 7
			"+14155550102,Cyd,,\n"+ // 7: created
			"+14155550100,New,,\n") // 8: updates
		require.NoError(t, err)
		require.Equal(t, contacts.ImportResult{Accepted: 5, Created: 2, Updated: 1, Duplicates: 2,
			Rejected: []contacts.Reject{
				{Line: 3, Reason: "phone: must be a valid phone number with its country code"},
				{Line: 5, Reason: "attributes: merged into the contact's own, must be at most 16 KiB of JSON"},
			}, RejectedCount: 2}, res)
		require.Equal(t, "New", b.stored(t, known.ID).Name)
		require.Equal(t, map[string]any{"a": big}, b.stored(t, full.ID).Attributes)
		require.Equal(t, 4, b.db.Contacts())

		audit := b.db.Audit()
		require.Equal(t, []string{"contact.created", "contact.created", "contact.imported"}, b.actions(), "one entry for the list")
		e := audit[2]
		require.Equal(t, "contact", e.ResourceType)
		require.Equal(t, b.owner.ID.String(), e.ActorID)
		require.Equal(t, map[string]any{"accepted": 5, "created": 2, "updated": 1, "unchanged": 0, "duplicates": 2, "rejected": 2}, e.Details)
	})

	t.Run("ReportsTheFirstHundredReasons", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var sb strings.Builder
		sb.WriteString("phone\n")
		for i := range 150 {
			fmt.Fprintf(&sb, "x%d\n+1415555%04d\n", i, i)
		}
		res, err := importCSV(t, b, b.owner, sb.String())
		require.NoError(t, err)
		require.Equal(t, 150, res.Accepted)
		require.Equal(t, 150, res.Created)
		require.Equal(t, 150, res.RejectedCount)
		require.Len(t, res.Rejected, contacts.MaxImportReasons)
		require.Equal(t, 2, res.Rejected[0].Line)
		require.Equal(t, 200, res.Rejected[99].Line)
	})

	t.Run("OnlyWithThePermission", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, c := range []domain.Caller{b.agent, b.viewer} {
			_, err := b.svc.Import(ctx, c, &failing{errors.New("the body must not be read")})
			requireKind(t, domain.KindForbidden, err)
			requireKind(t, domain.KindForbidden, b.svc.ImportAllowed(c))
		}
		require.NoError(t, b.svc.ImportAllowed(b.owner))
		require.Empty(t, b.actions())
	})

	t.Run("ABadFileWritesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := importCSV(t, b, b.owner, "name\nAnn\n")
		requireFields(t, err, "body")
		broken := errors.New("connection reset")
		_, err = b.svc.Import(ctx, b.owner, io.MultiReader(strings.NewReader("phone\n+14155550100\n+14155550101\n"), &failing{broken}))
		require.ErrorIs(t, err, broken)
		_, err = importCSV(t, b, b.owner, "phone,name\n+14155550100,\"unclosed\n"+strings.Repeat("+14155550101,x\n", 10_000))
		requireFields(t, err, "body")
		require.Zero(t, b.db.Contacts())
		require.Empty(t, b.actions())
	})

	t.Run("TwoAtATime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var writers []*io.PipeWriter
		done := make(chan error, 2)
		for range 2 {
			pr, pw := io.Pipe()
			writers = append(writers, pw)
			go func() { _, err := b.svc.Import(ctx, b.owner, pr); done <- err }()
			// Read once the import holds its slot.
			_, err := io.WriteString(pw, "phone\n")
			require.NoError(t, err)
		}
		_, err := importCSV(t, b, b.owner, "phone\n")
		requireKind(t, domain.KindRateLimited, err)
		var de *domain.Error
		require.ErrorAs(t, err, &de)
		require.Positive(t, de.RetryAfter)
		for _, w := range writers {
			go func() {
				_, _ = io.WriteString(w, "+14155550100\n")
				w.Close()
			}()
		}
		require.NoError(t, <-done)
		require.NoError(t, <-done)
		_, err = importCSV(t, b, b.owner, "phone\n")
		require.NoError(t, err, "the slots are free again")
	})
}
