package postgres_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/campaigns"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// freeSlots grants every upload a slot.
type freeSlots struct{}

func (freeSlots) ReserveImport() (func(), error) { return func() {}, nil }

// An uploaded list writes contacts as an import does and makes them recipients, with the
// counters exact; a phone on several lines, or a contact already a recipient, is one; the
// campaign is not locked while the list streams in; a launched campaign takes no list, and
// its audience joins the uploaded recipients.
func TestCampaignRecipientUpload(t *testing.T) {
	t.Parallel()
	b := setupCampaigns(t)
	ctx := context.Background()
	world := &campaignWorld{number: domain.PhoneNumber{WorkspaceID: b.ws, PhoneNumberID: "1065", WABAID: "waba", Status: domain.NumberConnected},
		template: domain.Template{Name: "hello", Language: "en_US", WABAID: "waba", Category: domain.CategoryUtility,
			Status: domain.TemplateApproved, Components: []domain.TemplateComponent{{Type: "BODY", Text: "Hi {{1}}"}}},
		perCall: 10}
	svc := campaigns.NewService(campaigns.Deps{Tx: b.tx(), Store: b.repo, Numbers: world, Templates: world,
		Workspaces: postgres.NewWorkspaceRepo(b.pool), Quota: world, Imports: freeSlots{},
		Authz: authztest.Grants{access.Owner: {access.CampaignsRead, access.CampaignsManage, access.CampaignsLaunch}}})
	owner := domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: b.ws, Role: access.Owner}
	cr := postgres.NewContactRepo(b.pool)
	phoneOf := func(id domain.ID) string {
		ct, err := cr.Get(ctx, b.ws, id, contacts.View{}, false)
		require.NoError(t, err)
		return ct.Phone
	}
	withPhone := func(phone string) []domain.Contact {
		list, err := cr.List(ctx, b.ws, contacts.Filter{Phone: phone}, contacts.View{}, 2)
		require.NoError(t, err)
		return list
	}
	byPhone := func(phone string) domain.Contact {
		list := withPhone(phone)
		require.Len(t, list, 1, phone)
		return list[0]
	}

	// Valid numbers (the list's phones are checked as the API checks them).
	fresh := func() string { return fmt.Sprintf("+1415555%04d", contactSeq.Add(1)%10000) }
	contact := func(name string, tags ...string) domain.ID {
		phone := fresh()
		ct, err := cr.Create(ctx, domain.Contact{ID: domain.NewID(), WorkspaceID: b.ws, Phone: phone, WaID: phone[1:], Name: name,
			Tags: append([]string{}, tags...), Attributes: map[string]any{}, CreatedAt: now(), UpdatedAt: now()})
		require.NoError(t, err)
		return ct.ID
	}

	// A contact who opted out stays so; a deleted number that stopped everything comes
	// back opted out (the suppression list).
	stays := contact("Kim", "vip")
	_, err := cr.SetOptOut(ctx, b.ws, stays, true, domain.OptOutAPI, now())
	require.NoError(t, err)
	renamed := contact("Old name")
	gone := contact("Gone")
	stopped := phoneOf(gone)
	_, err = cr.SetOptOut(ctx, b.ws, gone, true, domain.OptOutKeyword, now())
	require.NoError(t, err)
	require.NoError(t, cr.Delete(ctx, b.ws, gone))
	ana, other := fresh(), fresh()

	c := b.campaign(t, domain.CampaignDraft, domain.Audience{})
	res, err := svc.UploadRecipients(ctx, owner, c.ID, strings.NewReader("phone,name,city\n"+
		phoneOf(stays)+",,\n"+ // 2: unchanged
		ana+",Ana,Pune\n"+ // 3: new
		"not a phone,Bo,\n"+ // 4: refused
		phoneOf(renamed)+",New name,\n"+ // 5: updated
		stopped+",Back,\n"+ // 6: new, opted out
		ana+",Ana Lee,\n")) // 7: supersedes line 3
	require.NoError(t, err)
	require.Equal(t, 5, res.Accepted)
	require.Equal(t, 4, res.Added)
	require.Equal(t, [4]int{2, 1, 1, 1}, [4]int{res.Created, res.Updated, res.Unchanged, res.Duplicates})
	require.Equal(t, 1, res.RejectedCount)
	require.Equal(t, 4, res.Rejected[0].Line)
	require.Equal(t, map[domain.RecipientStatus]int{domain.RecipientPending: 4}, b.counters(t, c.ID))
	require.Equal(t, b.recipientCounts(t, c.ID), b.counters(t, c.ID))
	require.True(t, byPhone(phoneOf(stays)).OptedOut, "an upload changes no opt-out")
	back := byPhone(stopped)
	require.True(t, back.OptedOut, "the suppression list is honoured")
	require.Equal(t, "Back", back.Name)
	require.Equal(t, "Ana Lee", byPhone(ana).Name)
	require.Equal(t, "New name", byPhone(phoneOf(renamed)).Name)
	rs, err := b.repo.Recipients(ctx, b.ws, c.ID, campaigns.RecipientFilter{}, 10)
	require.NoError(t, err)
	names := map[string]string{}
	for _, r := range rs {
		names[r.Phone] = r.Name
	}
	require.Equal(t, map[string]string{phoneOf(stays): "Kim", ana: "Ana Lee", phoneOf(renamed): "New name", stopped: "Back"}, names)
	var added string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT payload->>'added' FROM events WHERE kind = 'campaign.updated' AND resource_id = $1`,
		c.ID.String()).Scan(&added))
	require.Equal(t, "4", added)

	// A second list adds only the contacts not yet recipients; while it streams in, the
	// campaign is not locked (a rename does not wait for the upload).
	body, write := io.Pipe()
	done := make(chan error, 1)
	go func() {
		res, err = svc.UploadRecipients(ctx, owner, c.ID, body)
		done <- err
	}()
	_, err = io.WriteString(write, "phone\n"+ana+"\n"+other+"\n")
	require.NoError(t, err)
	lockCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, b.tx().InTx(lockCtx, func(ctx context.Context, r campaigns.Repos) error {
		cp, err := r.Campaigns.Lock(ctx, b.ws, c.ID)
		if err != nil {
			return err
		}
		cp.Name = "Renamed while uploading"
		return r.Campaigns.Update(ctx, cp)
	}))
	_, err = io.WriteString(write, phoneOf(stays)+"\n")
	require.NoError(t, err)
	require.NoError(t, write.Close())
	require.NoError(t, <-done)
	require.Equal(t, 3, res.Accepted)
	require.Equal(t, 1, res.Added)
	require.Equal(t, map[domain.RecipientStatus]int{domain.RecipientPending: 5}, b.counters(t, c.ID))
	got, err := b.repo.Get(ctx, b.ws, c.ID)
	require.NoError(t, err)
	require.Equal(t, "Renamed while uploading", got.Name, "the upload keeps what changed while it streamed")

	// Launched with an audience: the vip contacts join, the one already uploaded once.
	vip := contact("Lu", "vip")
	_, err = svc.Update(ctx, owner, c.ID, campaigns.UpdateInput{Audience: &campaigns.AudienceInput{Tags: []string{"vip"}}})
	require.NoError(t, err)
	got, err = svc.Launch(ctx, owner, c.ID)
	require.NoError(t, err)
	require.Equal(t, domain.CampaignRunning, got.Status)
	require.Equal(t, 6, got.Stats.Recipients)
	require.Equal(t, b.recipientCounts(t, c.ID), b.counters(t, c.ID))
	var joined bool
	rs, err = b.repo.Recipients(ctx, b.ws, c.ID, campaigns.RecipientFilter{}, 10)
	require.NoError(t, err)
	for _, r := range rs {
		joined = joined || r.ContactID == vip
	}
	require.True(t, joined, "the audience's contact is a recipient")

	// Running: no more lists, and nothing written.
	late := fresh()
	_, err = svc.UploadRecipients(ctx, owner, c.ID, strings.NewReader("phone\n"+late+"\n"))
	require.Equal(t, domain.KindInvalidState, domain.KindOf(err), "%v", err)
	require.Empty(t, withPhone(late))
	require.Equal(t, map[domain.RecipientStatus]int{domain.RecipientPending: 6}, b.counters(t, c.ID))
}
