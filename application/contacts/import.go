package contacts

import (
	"cmp"
	"context"
	"io"
	"slices"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

const (
	// MaxImportReasons is how many refused lines an import reports with their reason.
	MaxImportReasons = 100
	// maxConcurrentImports bounds the imports one process runs at once (ReserveImport).
	maxConcurrentImports = 2
)

// ImportRows streams the valid rows of an import to a store, once.
type ImportRows interface {
	Next() bool
	Row() ImportRow
	// Err is what stopped Next early (nil at the end of the rows).
	Err() error
}

// ImportCounts is what a store made of an import's rows.
type ImportCounts struct {
	// Created, Updated and Unchanged count phones: new contacts, contacts the rows changed,
	// and contacts that already had every value their row gives.
	Created, Updated, Unchanged int
	// Duplicates counts rows superseded by a later row with the same phone.
	Duplicates int
	// Refused lists the lines whose attributes, merged into the contact's own, would pass
	// domain.MaxAttributesBytes (the first MaxImportReasons, by line); RefusedCount counts
	// them all. Nothing of those rows is written.
	Refused      []int
	RefusedCount int
}

// Reject is a line an import refused, and why.
type Reject struct {
	Line   int
	Reason string
}

// ImportResult is what became of an imported list's lines.
type ImportResult struct {
	// Accepted counts the lines imported: Created + Updated + Unchanged + Duplicates.
	Accepted, Created, Updated, Unchanged, Duplicates int
	// Rejected holds the first MaxImportReasons refused lines, by line; RejectedCount
	// counts them all.
	Rejected      []Reject
	RejectedCount int
}

// refusedAttributes is the reason of a row a store refused (ImportCounts.Refused).
const refusedAttributes = "attributes: merged into the contact's own, must be at most 16 KiB of JSON"

// ImportAllowed is nil when the caller may import contacts: the HTTP adapter asks before it
// checks the body, so that a caller without the permission learns nothing about it.
func (s *Service) ImportAllowed(c domain.Caller) error {
	return authz.Require(s.authz, c, access.ContactsImport)
}

// Import reads a contact list in CSV (CSVReader) from body and writes it in one transaction,
// audited once (contact.imported) with its counts. A phone on several lines is imported
// once, from its last line. A new phone creates a contact, which starts with the opt-outs
// the suppression list keeps for it; a known one gets the non-empty cells of its line (a
// name, tags replacing its tags, attributes merged key by key). An import never changes an
// opt-out and never assigns a contact. The body is read as the rows are written: it is
// never held whole. A body with more than MaxImportRows data records fails with
// ErrTooManyRows (wrapped), and one that fails to be read with its reader's error (wrapped);
// nothing is written then.
func (s *Service) Import(ctx context.Context, c domain.Caller, body io.Reader) (ImportResult, error) {
	if err := s.ImportAllowed(c); err != nil {
		return ImportResult{}, err
	}
	release, err := s.ReserveImport()
	if err != nil {
		return ImportResult{}, err
	}
	defer release()
	feed, err := NewImportFeed(body)
	if err != nil {
		return ImportResult{}, err
	}
	now := s.now().UTC()
	var res ImportResult
	attempted := false
	err = s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if attempted {
			return ErrImportRetried
		}
		attempted = true
		counts, err := r.Contacts.Import(ctx, c.WorkspaceID, feed, now)
		if rerr := feed.Err(); rerr != nil {
			return rerr // the body's own error, whatever the store made of it
		}
		if err != nil {
			return err
		}
		res = feed.Result(counts)
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.ContactImported{Accepted: res.Accepted,
			Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged, Duplicates: res.Duplicates,
			Rejected: res.RejectedCount}))
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// ErrImportRetried is the error of a transaction that would read an uploaded body a second
// time: retried after a deadlock, when its first attempt already consumed the body.
var ErrImportRetried = domain.Errorf(domain.KindConflict, "the import was rolled back by a concurrent change; send the file again")

// ReserveImport takes one of the slots bounding the CSV uploads this process writes at once
// (contact imports and campaign recipient uploads alike), each holding a database connection
// and a transaction for as long as its upload lasts; release gives it back. With every slot
// taken it answers KindRateLimited.
func (s *Service) ReserveImport() (release func(), err error) {
	select {
	case s.imports <- struct{}{}:
		return func() { <-s.imports }, nil
	default:
		return nil, &domain.Error{Kind: domain.KindRateLimited, RetryAfter: 10 * time.Second,
			Message: "other imports are running on this server; try again shortly"}
	}
}

// ImportFeed hands a store the valid rows of a contact list in CSV (CSVReader, at most
// MaxImportRows data records) and keeps count of the refused ones, to tell an import's
// result (Result) once the store has written the rows.
type ImportFeed struct {
	src      *CSVReader
	row      ImportRow
	valid    int
	rejects  []Reject // the first MaxImportReasons
	rejected int
}

// NewImportFeed reads the header row of body (NewCSVReader's errors) and returns the feed
// of the rows after it.
func NewImportFeed(body io.Reader) (*ImportFeed, error) {
	src, err := NewCSVReader(body, MaxImportRows)
	if err != nil {
		return nil, err
	}
	return &ImportFeed{src: src}, nil
}

// Next implements ImportRows.
func (f *ImportFeed) Next() bool {
	for f.src.Next() {
		r := f.src.Row()
		if r.Reject == "" {
			f.row = r.ImportRow
			f.valid++
			return true
		}
		f.rejected++
		if len(f.rejects) < MaxImportReasons {
			f.rejects = append(f.rejects, Reject{Line: r.Line, Reason: r.Reject})
		}
	}
	return false
}

// Row implements ImportRows.
func (f *ImportFeed) Row() ImportRow { return f.row }

// Err implements ImportRows: the CSVReader's error.
func (f *ImportFeed) Err() error { return f.src.Err() }

// Result is what became of the lines, from what the store made of the valid rows.
func (f *ImportFeed) Result(c ImportCounts) ImportResult {
	rejected := slices.Clone(f.rejects)
	for _, line := range c.Refused {
		rejected = append(rejected, Reject{Line: line, Reason: refusedAttributes})
	}
	slices.SortStableFunc(rejected, func(a, b Reject) int { return cmp.Compare(a.Line, b.Line) })
	if rejected == nil {
		rejected = []Reject{}
	}
	return ImportResult{Accepted: f.valid - c.RefusedCount, Created: c.Created, Updated: c.Updated,
		Unchanged: c.Unchanged, Duplicates: c.Duplicates,
		Rejected: rejected[:min(len(rejected), MaxImportReasons)], RejectedCount: f.rejected + c.RefusedCount}
}
