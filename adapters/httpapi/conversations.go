package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/domain"
)

// Inbox serves the team inbox: conversations, their messages, assignment, status, read
// state, notes, the inbox settings and the caller's availability.
type Inbox struct {
	API   *API
	Inbox *conversations.Service
}

// Register adds the inbox routes to e.
func (h *Inbox) Register(e *echo.Echo) {
	ws := func(method, path string, fn echo.HandlerFunc) { h.API.WorkspaceRoute(e, method, path, fn) }
	ws(http.MethodGet, "/conversations", h.list)
	ws(http.MethodGet, "/conversations/:id", h.get)
	ws(http.MethodGet, "/conversations/:id/messages", h.messages)
	ws(http.MethodPost, "/conversations/:id/assign", h.assign)
	ws(http.MethodPost, "/conversations/:id/status", h.status)
	ws(http.MethodPost, "/conversations/:id/read", h.read)
	ws(http.MethodGet, "/conversations/:id/notes", h.notes)
	ws(http.MethodPost, "/conversations/:id/notes", h.addNote)
	ws(http.MethodGet, "/settings/inbox", h.getSettings)
	ws(http.MethodPut, "/settings/inbox", h.putSettings)
	ws(http.MethodPatch, "/members/me", h.availability)
}

type conversationDTO struct {
	ID                     domain.ID  `json:"id"`
	ContactID              domain.ID  `json:"contact_id"`
	PhoneNumberID          string     `json:"phone_number_id"`
	Status                 string     `json:"status"`
	AssignedTo             *domain.ID `json:"assigned_to"`
	UnreadCount            int        `json:"unread_count"`
	LastMessageAt          time.Time  `json:"last_message_at"`
	LastMessagePreview     string     `json:"last_message_preview"`
	LastInboundAt          *time.Time `json:"last_inbound_at"`
	ServiceWindowExpiresAt *time.Time `json:"service_window_expires_at"`
	CanSendFreeform        bool       `json:"can_send_freeform"`
	CreatedAt              time.Time  `json:"created_at"`
	UpdatedAt              time.Time  `json:"updated_at"`
}

func toConversation(it conversations.Item) conversationDTO {
	c := it.Conversation
	return conversationDTO{ID: c.ID, ContactID: c.ContactID, PhoneNumberID: c.PhoneNumberID, Status: string(c.Status),
		AssignedTo: c.AssignedTo, UnreadCount: c.UnreadCount, LastMessageAt: c.LastMessageAt.UTC(),
		LastMessagePreview: c.LastMessagePreview, LastInboundAt: utcOrNil(c.LastInboundAt),
		ServiceWindowExpiresAt: utcOrNil(c.ServiceWindowExpiresAt), CanSendFreeform: it.CanSendFreeform,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
}

type noteDTO struct {
	ID        domain.ID  `json:"id"`
	AuthorID  *domain.ID `json:"author_id"`
	Body      string     `json:"body"`
	CreatedAt time.Time  `json:"created_at"`
}

func toNote(n domain.Note) noteDTO {
	return noteDTO{ID: n.ID, AuthorID: n.AuthorID, Body: n.Body, CreatedAt: n.CreatedAt.UTC()}
}

func (h *Inbox) list(c echo.Context) error {
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := h.Inbox.List(c.Request().Context(), caller(c), conversations.Filter{
		Which: conversations.Which(c.QueryParam("view")), Status: domain.ConversationStatus(c.QueryParam("status")),
		Query: c.QueryParam("q"), Limit: limit, Cursor: cursor})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toConversation))
}

func (h *Inbox) get(c echo.Context) error {
	id, err := pathID(c, "id", "conversation")
	if err != nil {
		return err
	}
	it, err := h.Inbox.Get(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toConversation(it))
}

func (h *Inbox) messages(c echo.Context) error {
	id, err := pathID(c, "id", "conversation")
	if err != nil {
		return err
	}
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := h.Inbox.Messages(c.Request().Context(), caller(c), id, limit, cursor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toMessage))
}

func (h *Inbox) assign(c echo.Context) error {
	id, err := pathID(c, "id", "conversation")
	if err != nil {
		return err
	}
	var req struct {
		UserID json.RawMessage `json:"user_id"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	present, user, err := nullableID(req.UserID, "user_id")
	if err != nil {
		return err
	}
	if !present {
		var v domain.Validator
		v.Add("user_id", "is required (null unassigns)")
		return v.Err()
	}
	it, err := h.Inbox.Assign(c.Request().Context(), caller(c), id, user)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toConversation(it))
}

func (h *Inbox) status(c echo.Context) error {
	id, err := pathID(c, "id", "conversation")
	if err != nil {
		return err
	}
	var req struct {
		Status string `json:"status"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	it, err := h.Inbox.SetStatus(c.Request().Context(), caller(c), id, req.Status)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toConversation(it))
}

func (h *Inbox) read(c echo.Context) error {
	id, err := pathID(c, "id", "conversation")
	if err != nil {
		return err
	}
	it, err := h.Inbox.MarkRead(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toConversation(it))
}

func (h *Inbox) notes(c echo.Context) error {
	id, err := pathID(c, "id", "conversation")
	if err != nil {
		return err
	}
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := h.Inbox.Notes(c.Request().Context(), caller(c), id, limit, cursor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toNote))
}

func (h *Inbox) addNote(c echo.Context) error {
	id, err := pathID(c, "id", "conversation")
	if err != nil {
		return err
	}
	var req struct {
		Body string `json:"body"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	n, err := h.Inbox.AddNote(c.Request().Context(), caller(c), id, req.Body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toNote(n))
}

type inboxSettingsDTO struct {
	AutoAssign string `json:"auto_assign"`
}

func (h *Inbox) getSettings(c echo.Context) error {
	m, err := h.Inbox.InboxSettings(c.Request().Context(), caller(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inboxSettingsDTO{AutoAssign: string(m)})
}

func (h *Inbox) putSettings(c echo.Context) error {
	var req inboxSettingsDTO
	if err := bind(c, &req); err != nil {
		return err
	}
	m, err := h.Inbox.SetInboxSettings(c.Request().Context(), caller(c), req.AutoAssign)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inboxSettingsDTO{AutoAssign: string(m)})
}

func (h *Inbox) availability(c echo.Context) error {
	var req struct {
		Available *bool `json:"available"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.Available == nil {
		var v domain.Validator
		v.Add("available", "is required (true or false)")
		return v.Err()
	}
	cl := caller(c)
	if err := h.Inbox.SetAvailable(c.Request().Context(), cl, *req.Available); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user_id": cl.ID, "available": *req.Available})
}
