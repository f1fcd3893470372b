package live

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// ResumeWindow is how old an event a stream may resume after: an older Last-Event-ID
// starts the stream at the live end.
const ResumeWindow = 24 * time.Hour

// backlogPage is how many missed events a resuming stream reads at once.
const backlogPage = 200

// Service opens streams.
type Service struct {
	hub   *Hub
	feed  Feed
	authz authz.Authorizer
	now   domain.Clock
}

// NewService returns the streams of hub, reading backlogs from feed.
func NewService(hub *Hub, feed Feed, a authz.Authorizer, now domain.Clock) *Service {
	return &Service{hub: hub, feed: feed, authz: a, now: now}
}

// ViewerOf is what the caller's stream may carry: the workspace's events, and for an agent
// only theirs and the unassigned conversations' (the conversations' and contacts' rules).
func ViewerOf(c domain.Caller) Viewer {
	return Viewer{Workspace: c.WorkspaceID, User: c.ID, Agent: conversations.ViewOf(c).Agent}
}

// Allowed is nil when the caller may open a stream.
func (s *Service) Allowed(c domain.Caller) error {
	return authz.Require(s.authz, c, access.ConversationsRead)
}

// Open starts the caller's stream. lastEventID, when it names an event of the workspace
// less than ResumeWindow old, makes the stream begin with what came after it.
func (s *Service) Open(ctx context.Context, c domain.Caller, lastEventID string) (*Stream, error) {
	if err := s.Allowed(c); err != nil {
		return nil, err
	}
	viewer := ViewerOf(c)
	sub, at, err := s.hub.Subscribe(ctx, viewer)
	if err != nil {
		return nil, err
	}
	st := &Stream{sub: sub, feed: s.feed, viewer: viewer, kinds: s.hub.kinds, last: at, upTo: at}
	if from, ok := ParseID(lastEventID); ok {
		t, found, err := s.feed.At(ctx, c.WorkspaceID, from)
		if err != nil {
			sub.Close()
			return nil, err
		}
		if found && s.now().Sub(t) < ResumeWindow {
			st.last = from
		}
	}
	return st, nil
}

// Stream is one caller's events: first those it missed (Backlog), then the live ones.
type Stream struct {
	sub    *Subscription
	feed   Feed
	viewer Viewer
	kinds  []domain.EventKind
	last   events.Position // the last event sent (or the one resumed after)
	upTo   events.Position // the backlog ends here; the subscription has what follows
}

// Backlog returns the next events the stream missed before it opened, oldest first;
// none once it has caught up.
func (st *Stream) Backlog(ctx context.Context) ([]*Event, error) {
	var out []*Event
	for st.last.Before(st.upTo) && len(out) == 0 {
		page, err := st.feed.After(ctx, st.last, st.viewer.Workspace, st.kinds, backlogPage)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			st.last = st.upTo
			break
		}
		for _, e := range page {
			if st.upTo.Before(e.Position()) {
				st.last = st.upTo
				break
			}
			st.last = e.Position()
			ev, ok, err := build(e)
			if err != nil {
				return nil, err
			}
			if ok && st.viewer.Sees(ev) {
				out = append(out, ev)
			}
		}
	}
	return out, nil
}

// Fresh reports whether ev (from Live) comes after what the stream sent, and records it
// as sent: a stream resumed after an event this instance had not handed out yet skips
// what the client already has.
func (st *Stream) Fresh(ev *Event) bool {
	if !st.last.Before(ev.Pos) {
		return false
	}
	st.last = ev.Pos
	return true
}

// Live delivers the events after the backlog; it is closed when the hub drops the stream
// (Err says why).
func (st *Stream) Live() <-chan *Event { return st.sub.C() }

// Err is why Live was closed: ErrSlow or ErrClosed.
func (st *Stream) Err() error { return st.sub.Err() }

// Close ends the stream.
func (st *Stream) Close() { st.sub.Close() }
