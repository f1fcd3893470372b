package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
)

type contactDTO struct {
	ID                     domain.ID      `json:"id"`
	Phone                  *string        `json:"phone"`
	WaID                   *string        `json:"wa_id"`
	BSUID                  *string        `json:"bsuid"`
	Name                   string         `json:"name"`
	Tags                   []string       `json:"tags"`
	Attributes             map[string]any `json:"attributes"`
	AssignedTo             *domain.ID     `json:"assigned_to"`
	OptedOut               bool           `json:"opted_out"`
	OptedOutAt             *time.Time     `json:"opted_out_at"`
	OptOutSource           *string        `json:"opt_out_source"`
	MarketingOptedOut      bool           `json:"marketing_opted_out"`
	LastInboundAt          *time.Time     `json:"last_inbound_at"`
	ServiceWindowExpiresAt *time.Time     `json:"service_window_expires_at"`
	CreatedAt              time.Time      `json:"created_at"`
	UpdatedAt              time.Time      `json:"updated_at"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func toContact(c domain.Contact) contactDTO {
	return contactDTO{
		ID: c.ID, Phone: strOrNil(c.Phone), WaID: strOrNil(c.WaID), BSUID: strOrNil(c.BSUID), Name: c.Name,
		Tags: c.Tags, Attributes: c.Attributes, AssignedTo: c.AssignedTo, OptedOut: c.OptedOut,
		OptedOutAt: utcOrNil(c.OptedOutAt), OptOutSource: strOrNil(string(c.OptOutSource)),
		MarketingOptedOut: c.MarketingOptedOut, LastInboundAt: utcOrNil(c.LastInboundAt),
		ServiceWindowExpiresAt: utcOrNil(c.ServiceWindowExpiresAt), CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
}

// contactBody is the writable part of a contact. assigned_to distinguishes absent from
// null (null unassigns), so it is decoded by hand.
type contactBody struct {
	Phone      *string         `json:"phone"`
	Name       *string         `json:"name"`
	Tags       *[]string       `json:"tags"`
	Attributes *map[string]any `json:"attributes"`
	AssignedTo json.RawMessage `json:"assigned_to"`
}

func (b contactBody) input() (contacts.Input, error) {
	in := contacts.Input{Phone: b.Phone, Name: b.Name, Tags: b.Tags, Attributes: b.Attributes}
	present, id, err := nullableID(b.AssignedTo, "assigned_to")
	switch {
	case err != nil || !present:
	case id == nil:
		in.AssignedTo = &domain.NilID // unassign
	default:
		in.AssignedTo = id
	}
	return in, err
}

func (a *API) createContact(c echo.Context) error {
	var body contactBody
	if err := bind(c, &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	ct, err := a.Contacts.Create(c.Request().Context(), caller(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toContact(ct))
}

func (a *API) listContacts(c echo.Context) error {
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	f := contacts.Filter{Phone: c.QueryParam("phone"), Query: c.QueryParam("q"), Tag: c.QueryParam("tag"), Limit: limit, Cursor: cursor}
	var v domain.Validator
	if s := c.QueryParam("opted_out"); s != "" {
		b, perr := strconv.ParseBool(s)
		v.Check(perr == nil, "opted_out", "must be true or false")
		f.OptedOut = &b
	}
	if s := c.QueryParam("assigned_to"); s != "" {
		id, perr := domain.ParseID(s)
		v.Check(perr == nil, "assigned_to", "must be a user id")
		f.AssignedTo = &id
	}
	v.Check(len(f.Query) <= 200, "q", "must be at most 200 characters")
	v.Check(len(f.Tag) <= 64, "tag", "must be at most 64 characters")
	if err := v.Err(); err != nil {
		return err
	}
	page, err := a.Contacts.List(c.Request().Context(), caller(c), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toContact))
}

func (a *API) getContact(c echo.Context) error {
	id, err := pathID(c, "id", "contact")
	if err != nil {
		return err
	}
	ct, err := a.Contacts.Get(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toContact(ct))
}

func (a *API) updateContact(c echo.Context) error {
	id, err := pathID(c, "id", "contact")
	if err != nil {
		return err
	}
	var body contactBody
	if err := bind(c, &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	ct, err := a.Contacts.Update(c.Request().Context(), caller(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toContact(ct))
}

func (a *API) deleteContact(c echo.Context) error {
	id, err := pathID(c, "id", "contact")
	if err != nil {
		return err
	}
	if err := a.Contacts.Delete(c.Request().Context(), caller(c), id); err != nil {
		return err
	}
	return noContent(c)
}

func (a *API) optOutContact(c echo.Context) error { return a.setOptOut(c, true) }
func (a *API) optInContact(c echo.Context) error  { return a.setOptOut(c, false) }

func (a *API) setOptOut(c echo.Context, out bool) error {
	id, err := pathID(c, "id", "contact")
	if err != nil {
		return err
	}
	ct, err := a.Contacts.SetOptOut(c.Request().Context(), caller(c), id, out)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toContact(ct))
}

const (
	// MaxImportBytes caps a contact import's body, enforced while it is read (the global
	// body limit skips the route): a million rows with a name, tags and a few attributes fit.
	MaxImportBytes = 128 << 20
	// ContactImportPath and CampaignRecipientsPath (POST) are the routes of CSV uploads,
	// which skip the global body limit and request timeout for their own (uploadRoute).
	ContactImportPath      = "/v1/workspaces/:ws/contacts/import"
	CampaignRecipientsPath = "/v1/workspaces/:ws/campaigns/:id/recipients"
	// importTimeout replaces requestTimeout for an upload: a million rows take longer.
	importTimeout = 10 * time.Minute
)

type importRejectDTO struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

type importResultDTO struct {
	Accepted      int               `json:"accepted"`
	Created       int               `json:"created"`
	Updated       int               `json:"updated"`
	Unchanged     int               `json:"unchanged"`
	Duplicates    int               `json:"duplicates"`
	Rejected      []importRejectDTO `json:"rejected"`
	RejectedCount int               `json:"rejected_count"`
}

// importContacts streams a CSV body into the import use case (csvUpload).
func (a *API) importContacts(c echo.Context) error {
	cl := caller(c)
	var res contacts.ImportResult
	err := csvUpload(c, a.Contacts.ImportAllowed(cl), func(ctx context.Context, body io.Reader) (err error) {
		res, err = a.Contacts.Import(ctx, cl, body)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toImportResult(res))
}

func toImportResult(res contacts.ImportResult) importResultDTO {
	out := importResultDTO{Accepted: res.Accepted, Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged,
		Duplicates: res.Duplicates, Rejected: make([]importRejectDTO, len(res.Rejected)), RejectedCount: res.RejectedCount}
	for i, r := range res.Rejected {
		out.Rejected[i] = importRejectDTO{Line: r.Line, Reason: r.Reason}
	}
	return out
}

// uploadRoute reports whether c is a CSV upload (a contact import, a campaign's
// recipients), which reads its body under a cap of its own and has its own timeout.
func uploadRoute(c echo.Context) bool {
	return c.Request().Method == http.MethodPost && (c.Path() == ContactImportPath || c.Path() == CampaignRecipientsPath)
}

// csvUpload runs upload over the request's CSV body: allowed's refusal (403) before
// anything about the body is looked at, 413 past MaxImportBytes (declared or read) or
// MaxImportRows, 422 for a body that is not CSV, 400 when the client breaks off, 503 past
// importTimeout.
func csvUpload(c echo.Context, allowed error, upload func(ctx context.Context, body io.Reader) error) error {
	if allowed != nil {
		return allowed
	}
	req := c.Request()
	if req.ContentLength > MaxImportBytes {
		return domain.Errorf(kindPayloadTooLarge, "the body exceeds 128 MiB")
	}
	if err := csvMediaType(req.Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(req.Context(), importTimeout)
	defer cancel()
	// The server's own writer: MaxBytesReader tells it to close the connection once over.
	body := &bodyReader{r: http.MaxBytesReader(c.Response().Writer, req.Body, MaxImportBytes)}
	err := upload(ctx, body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return domain.Errorf(kindPayloadTooLarge, "the body exceeds 128 MiB")
	case errors.Is(err, contacts.ErrTooManyRows):
		return domain.Errorf(kindPayloadTooLarge, "the CSV has more than %d rows", contacts.MaxImportRows)
	case body.err != nil && errors.Is(err, body.err):
		// The client broke off the upload: not a server error.
		return echo.NewHTTPError(http.StatusBadRequest, "the body could not be read").SetInternal(err)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return domain.Errorf(domain.KindUnavailable, "the import did not finish within 10 minutes; nothing was imported")
	}
	return err
}

// bodyReader keeps the error that broke off reading a request body, to tell it from the
// errors of what reads it.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && b.err == nil {
		b.err = err
	}
	return n, err
}

// csvMediaType accepts the types clients give a CSV file: text/csv, application/csv,
// text/plain, application/vnd.ms-excel (browsers on Windows), or none; in UTF-8 (or
// ASCII) when a charset is named. Anything else (JSON, a form) is a 422.
func csvMediaType(header string) error {
	if header == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(header)
	ok := err == nil && slices.Contains([]string{"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"}, mt)
	if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		ok = false
	}
	if !ok {
		return &domain.Error{Kind: domain.KindValidation, Message: "the body must be CSV text in UTF-8",
			Fields: []domain.FieldError{{Field: "Content-Type", Message: "must be text/csv"}}}
	}
	return nil
}
