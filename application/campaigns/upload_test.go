package campaigns_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
)

// failing is a body that must not be read, or that breaks off.
type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }

func (b *bundle) upload(c domain.Caller, id domain.ID, body io.Reader) (campaigns.UploadResult, error) {
	return b.svc.UploadRecipients(context.Background(), c, id, body)
}

// An uploaded list makes contacts and recipients of a campaign without an audience, which
// may then launch; the audience is added to the uploaded recipients when it starts.
func TestUploadRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	known := b.contact("Kim", "vip")
	knownPhone := b.mem.contacts[known].Phone
	c := b.create(t, "hello", nil)
	requireField(t, errOf(b.svc.Launch(ctx, b.owner, c.ID)), "audience")

	res, err := b.upload(b.owner, c.ID, strings.NewReader("phone,name,city\n"+
		"+14155550100,Ana,Pune\n"+ // 2: new
		"not a phone,Bo,\n"+ // 3: refused
		knownPhone+",,\n"+ // 4: known, unchanged
		"+1 415 555 0100,Ana Lee,\n")) // 5: the same phone as line 2, which it supersedes
	require.NoError(t, err)
	require.Equal(t, 3, res.Accepted)
	require.Equal(t, 2, res.Added, "a phone on two lines is one recipient")
	require.Equal(t, 1, res.Created)
	require.Equal(t, 1, res.Duplicates)
	require.Equal(t, []contacts.Reject{{Line: 3, Reason: "phone: must be a valid phone number with its country code"}}, res.Rejected)
	require.Equal(t, 1, res.RejectedCount)
	got, err := b.svc.Get(ctx, b.viewer, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignStats{Recipients: 2, Pending: 2}, got.Stats)
	require.Equal(t, b.clock.now(), got.UpdatedAt)
	ev := b.lastEvent(t).Event.(domain.CampaignUpdated)
	require.Equal(t, domain.CampaignUpdated{CampaignID: c.ID, Fields: []string{"recipients"}, Status: domain.CampaignDraft,
		Upload: &domain.RecipientUpload{Accepted: 3, Rejected: 1, Created: 1, Added: 2}}, ev)
	var ana domain.Contact
	for _, ct := range b.mem.contacts {
		if ct.Phone == "+14155550100" {
			ana = ct
		}
	}
	require.Equal(t, "Ana Lee", ana.Name, "the phone's last line wins")

	// A second list adds only the contacts not yet recipients.
	res, err = b.upload(b.owner, c.ID, strings.NewReader("phone\n+14155550100\n+14155550101\n"))
	require.NoError(t, err)
	require.Equal(t, 2, res.Accepted)
	require.Equal(t, 1, res.Added)

	// Scheduled, and launched: the audience joins the uploaded recipients, each once.
	at := b.clock.now().Add(time.Hour)
	c, err = b.svc.Update(ctx, b.owner, c.ID, campaigns.UpdateInput{SetScheduledAt: true, ScheduledAt: &at,
		Audience: &campaigns.AudienceInput{Tags: []string{"vip"}}})
	require.NoError(t, err)
	require.Equal(t, domain.CampaignScheduled, c.Status)
	b.contact("Lu", "vip")
	b.clock.advance(2 * time.Hour)
	c, err = b.svc.Launch(ctx, b.owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignRunning, c.Status)
	require.Equal(t, domain.CampaignStats{Recipients: 4, Pending: 4}, c.Stats)
	require.Equal(t, 4, b.lastEvent(t).Event.(domain.CampaignMoved).Recipients, "uploaded and audience recipients")

	// Running: no more uploads, and the body is not read.
	requireKind(t, domain.KindInvalidState, errOf2(b.upload(b.owner, c.ID, failing{errors.New("the body must not be read")})))
}

// A campaign without an audience may be scheduled once it has uploaded recipients.
func TestUploadedRecipientsMakeACampaignSchedulable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	c := b.create(t, "hello", nil)
	at := b.clock.now().Add(time.Hour)
	schedule := campaigns.UpdateInput{SetScheduledAt: true, ScheduledAt: &at}
	requireField(t, errOf(b.svc.Update(ctx, b.owner, c.ID, schedule)), "audience")
	_, err := b.upload(b.owner, c.ID, strings.NewReader("phone\n+14155550100\n"))
	require.NoError(t, err)
	c, err = b.svc.Update(ctx, b.owner, c.ID, schedule)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignScheduled, c.Status)
	// Scheduled campaigns still take lists.
	res, err := b.upload(b.owner, c.ID, strings.NewReader("phone\n+14155550101\n"))
	require.NoError(t, err)
	require.Equal(t, 1, res.Added)
}

func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.create(t, "hello", nil)
	unread := failing{errors.New("the body must not be read")}

	// Who may, and which campaign, before the body is looked at.
	requireKind(t, domain.KindForbidden, errOf2(b.upload(b.viewer, c.ID, unread)))
	requireKind(t, domain.KindForbidden, errOf2(b.upload(b.agent, c.ID, unread)))
	requireKind(t, domain.KindNotFound, errOf2(b.upload(b.owner, domain.NewID(), unread)))
	other := b.owner
	other.WorkspaceID = domain.NewID()
	requireKind(t, domain.KindNotFound, errOf2(b.upload(other, c.ID, unread)))

	// A body that is not a list, or breaks off: nothing is written.
	requireField(t, errOf2(b.upload(b.owner, c.ID, strings.NewReader("name\nAna\n"))), "body")
	broken := errors.New("connection reset")
	_, err := b.upload(b.owner, c.ID, io.MultiReader(strings.NewReader("phone\n+14155550100\n"), failing{broken}))
	require.ErrorIs(t, err, broken)
	got, err := b.svc.Get(context.Background(), b.owner, c.ID)
	require.NoError(t, err)
	require.Zero(t, got.Stats.Recipients)
	require.Empty(t, b.mem.contacts)

	// Every slot taken: come back later.
	for range 2 {
		_, err := b.mem.ReserveImport()
		require.NoError(t, err)
	}
	requireKind(t, domain.KindRateLimited, errOf2(b.upload(b.owner, c.ID, strings.NewReader("phone\n+14155550100\n"))))

	// A cancelled campaign takes no list either.
	_, err = b.svc.Cancel(context.Background(), b.owner, c.ID)
	require.NoError(t, err)
	requireKind(t, domain.KindInvalidState, errOf2(b.upload(b.owner, c.ID, unread)))
}

// An export hands every recipient once, newest contact first, page after page.
func TestExportRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	const n = 2345 // more than two pages
	var list strings.Builder
	list.WriteString("phone,name\n")
	for i := range n {
		fmt.Fprintf(&list, "+1415666%04d,Kim %d\n", i, i)
	}
	c := b.create(t, "hello", nil)
	_, err := b.upload(b.owner, c.ID, strings.NewReader(list.String()))
	require.NoError(t, err)

	var seen []domain.ID
	require.NoError(t, b.svc.ExportRecipients(ctx, b.viewer, c.ID, func(r domain.Recipient) error {
		require.Equal(t, domain.RecipientPending, r.Status)
		require.NotEmpty(t, r.Phone)
		seen = append(seen, r.ContactID)
		return nil
	}))
	require.Len(t, seen, n)
	for i := 1; i < len(seen); i++ {
		require.Equal(t, 1, compareIDs(seen[i-1], seen[i]), "newest contact first, each once")
	}

	stop := errors.New("client gone")
	calls := 0
	require.ErrorIs(t, b.svc.ExportRecipients(ctx, b.owner, c.ID, func(domain.Recipient) error { calls++; return stop }), stop)
	require.Equal(t, 1, calls, "an error of the writer ends the export")
	requireKind(t, domain.KindForbidden, b.svc.ExportRecipients(ctx, b.agent, c.ID, func(domain.Recipient) error { return nil }))
	requireKind(t, domain.KindNotFound, b.svc.ExportRecipients(ctx, b.owner, domain.NewID(), func(domain.Recipient) error { return nil }))
}
