package campaigns

import (
	"context"
	"io"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// UploadResult is what became of an uploaded recipient list's lines (as of a contact
// import's), and Added, the recipients the campaign gained: a contact already a recipient,
// or on several lines, is one once.
type UploadResult struct {
	contacts.ImportResult
	Added int
}

// UploadAllowed is nil when the caller may upload recipients (as for editing a campaign):
// the HTTP adapter asks before it looks at the body.
func (s *Service) UploadAllowed(c domain.Caller) error {
	return authz.Require(s.d.Authz, c, access.CampaignsManage)
}

// UploadRecipients reads a list of recipients in CSV from body (the contact import's
// format and rules: contacts.CSVReader, up to contacts.MaxImportRows) and, in one
// transaction, creates or updates their contacts as a contact import does and makes each
// accepted line's contact a pending recipient of the draft or scheduled campaign (409
// invalid_state otherwise). The audience, if any, is added to them when the campaign
// starts. The body is streamed, never held whole; nothing is written when it fails. One
// event: campaign.updated of fields ["recipients"], with the counts.
func (s *Service) UploadRecipients(ctx context.Context, c domain.Caller, id domain.ID, body io.Reader) (UploadResult, error) {
	if err := s.UploadAllowed(c); err != nil {
		return UploadResult{}, err
	}
	// Refused before the body is read; checked again under the lock.
	cur, err := s.d.Store.Get(ctx, c.WorkspaceID, id)
	if err != nil {
		return UploadResult{}, err
	}
	if err := domain.CheckCampaignMove(cur.Status, domain.CampaignEdit); err != nil {
		return UploadResult{}, err
	}
	release, err := s.d.Imports.ReserveImport()
	if err != nil {
		return UploadResult{}, err
	}
	defer release()
	feed, err := contacts.NewImportFeed(body)
	if err != nil {
		return UploadResult{}, err
	}
	now := s.now().UTC()
	var res UploadResult
	attempted := false
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if attempted {
			return contacts.ErrImportRetried
		}
		attempted = true
		var cp domain.Campaign
		lock := func(ctx context.Context) (err error) {
			if cp, err = r.Campaigns.Lock(ctx, c.WorkspaceID, id); err != nil {
				return err
			}
			return domain.CheckCampaignMove(cp.Status, domain.CampaignEdit)
		}
		counts, added, err := r.Contacts.ImportRecipients(ctx, c.WorkspaceID, id, feed, now, lock)
		if rerr := feed.Err(); rerr != nil {
			return rerr // the body's own error, whatever the store made of it
		}
		if err != nil {
			return err
		}
		res = UploadResult{ImportResult: feed.Result(counts), Added: added}
		cp.UpdatedAt = now
		if err := r.Campaigns.Update(ctx, cp); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.CampaignUpdated{CampaignID: id, Fields: []string{"recipients"},
			Status: cp.Status, Upload: &domain.RecipientUpload{Accepted: res.Accepted, Rejected: res.RejectedCount,
				Created: res.Created, Updated: res.Updated, Added: added}}))
	})
	if err != nil {
		return UploadResult{}, err
	}
	return res, nil
}

// exportPage is how many recipients an export reads at a time.
const exportPage = 1000

// ExportRecipients hands fn every recipient of a campaign, newest contact first, read a
// page at a time (by contact id, as the list pages), so that no more than a page is held
// whatever the campaign's size.
func (s *Service) ExportRecipients(ctx context.Context, c domain.Caller, id domain.ID, fn func(domain.Recipient) error) error {
	if err := authz.Require(s.d.Authz, c, access.CampaignsRead); err != nil {
		return err
	}
	if _, err := s.d.Store.Get(ctx, c.WorkspaceID, id); err != nil {
		return err
	}
	var f RecipientFilter
	for {
		page, err := s.d.Store.Recipients(ctx, c.WorkspaceID, id, f, exportPage)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		f.Cursor = page[len(page)-1].ContactID
	}
}
