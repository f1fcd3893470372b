package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
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
	switch raw := bytes.TrimSpace(b.AssignedTo); {
	case len(raw) == 0:
	case string(raw) == "null":
		in.AssignedTo = &domain.NilID
	default:
		var s string
		id, err := domain.NilID, json.Unmarshal(raw, &s)
		if err == nil {
			id, err = domain.ParseID(s)
		}
		if err != nil {
			return in, &domain.Error{Kind: domain.KindValidation, Message: "invalid assignee",
				Fields: []domain.FieldError{{Field: "assigned_to", Message: "must be a user id or null"}}}
		}
		in.AssignedTo = &id
	}
	return in, nil
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
