package httpapi

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/live"
	"github.com/wabaplatform/waba/domain"
)

// EventsPath is the route of a workspace's live event stream (Server-Sent Events). It has
// no request timeout (a stream lasts) and authenticates itself: a bearer or a ticket.
const EventsPath = "/v1/workspaces/:ws/events"

// Live serves the live event streams and their tickets.
type Live struct {
	API     *API
	Streams *live.Service
	// Heartbeat is how often a comment line keeps an idle stream open through proxies
	// (API.md: 15 seconds); Recheck how often a stream checks its caller still may read
	// (a revoked session, a removed member or a changed role ends it); WriteTimeout bounds
	// one turn of writes: a client that stops reading is dropped, its goroutine and
	// buffers freed.
	Heartbeat, Recheck, WriteTimeout time.Duration
}

// Register adds the routes to e.
func (h *Live) Register(e *echo.Echo) {
	e.GET(EventsPath, h.stream)
	h.API.WorkspaceRoute(e, http.MethodPost, "/events/tickets", h.ticket)
}

type ticketResponse struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (h *Live) ticket(c echo.Context) error {
	cl := caller(c)
	if err := h.Streams.Allowed(cl); err != nil {
		return err
	}
	t, expires, err := h.API.Identity.IssueTicket(c.Request().Context(), bearer(c), cl.WorkspaceID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, ticketResponse{Ticket: t, ExpiresAt: expires.UTC()})
}

// streamCaller resolves the caller of a stream request from its ticket or its bearer, as
// the member middleware does, and returns how to resolve it again later.
func (h *Live) streamCaller(c echo.Context) (domain.Caller, func(context.Context) (domain.Caller, error), error) {
	ctx, meta := c.Request().Context(), requestMeta(c)
	ws, err := h.API.workspaceParam(c)
	if err != nil && c.QueryParam("ticket") != "" {
		err = domain.NotFound("workspace") // a ticket, not a bearer, is the credential here
	}
	if err != nil {
		return domain.Caller{}, nil, err
	}
	if ticket := c.QueryParam("ticket"); ticket != "" {
		cl, session, err := h.API.Identity.CallerForTicket(ctx, ticket, ws, meta)
		return cl, func(ctx context.Context) (domain.Caller, error) {
			return h.API.Identity.SessionCaller(ctx, cl.ID, session, ws, meta)
		}, err
	}
	token := bearer(c)
	cl, err := h.API.Identity.CallerFor(ctx, token, ws, meta)
	return cl, func(ctx context.Context) (domain.Caller, error) {
		return h.API.Identity.CallerFor(ctx, token, ws, meta)
	}, err
}

func (h *Live) stream(c echo.Context) error {
	cl, again, err := h.streamCaller(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	lastID := c.Request().Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = c.QueryParam("last_event_id")
	}
	st, err := h.Streams.Open(ctx, cl, lastID)
	if errors.Is(err, live.ErrClosed) {
		return domain.Errorf(domain.KindUnavailable, "the server is shutting down; reconnect")
	}
	if err != nil {
		return err
	}
	defer st.Close()

	res := c.Response()
	hd := res.Header()
	hd.Set(echo.HeaderContentType, "text/event-stream")
	hd.Set(echo.HeaderCacheControl, "no-cache")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	res.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(res.Writer)
	w := bufio.NewWriterSize(res, 2048)
	// arm sets the write deadline; every turn that writes arms first. A turn's writes reach
	// the connection before its flush once they exceed the buffers (a burst of events), so
	// a deadline armed only at the flush would be the previous turn's, passed on a stream
	// quiet for longer than WriteTimeout: the burst's first write would fail and end it.
	arm := func() error {
		if err := rc.SetWriteDeadline(time.Now().Add(h.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	flush := func() error {
		if err := w.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	send := func(ev *live.Event) {
		_, _ = w.WriteString("id: " + ev.ID() + "\nevent: " + ev.Name + "\ndata: ")
		_, _ = w.Write(ev.Data)
		_, _ = w.WriteString("\n\n")
	}
	// The opening comment commits the headers at once, so the client knows it is connected.
	if arm() != nil {
		return nil
	}
	_, _ = w.WriteString(": connected\n\n")
	if err := flush(); err != nil {
		return nil
	}
	for {
		page, err := st.Backlog(ctx)
		if err != nil {
			return nil // the client resumes from what it got: nothing is skipped
		}
		if len(page) == 0 {
			break
		}
		if arm() != nil {
			return nil
		}
		for _, ev := range page {
			send(ev)
		}
		if flush() != nil {
			return nil
		}
	}

	heartbeat, recheck := time.NewTicker(h.Heartbeat), time.NewTicker(h.Recheck)
	defer heartbeat.Stop()
	defer recheck.Stop()
	for {
		select {
		case ev, ok := <-st.Live():
			if !ok {
				// Dropped as slow, or the instance is stopping: the stream ends and the
				// client resumes with Last-Event-ID.
				return nil
			}
			if arm() != nil {
				return nil
			}
			if st.Fresh(ev) {
				send(ev)
			}
			// Drain what else is waiting before one flush.
			for more := true; more; {
				select {
				case ev, ok := <-st.Live():
					if !ok {
						_ = flush()
						return nil
					}
					if st.Fresh(ev) {
						send(ev)
					}
				default:
					more = false
				}
			}
		case <-heartbeat.C:
			if arm() != nil {
				return nil
			}
			_, _ = w.WriteString(": ping\n\n")
		case <-recheck.C:
			now, err := again(ctx)
			if err != nil || now.Role != cl.Role {
				return nil
			}
			continue
		case <-ctx.Done():
			return nil
		}
		if flush() != nil {
			return nil
		}
	}
}
