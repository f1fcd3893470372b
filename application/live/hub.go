package live

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// Feed reads the event log for streams.
type Feed interface {
	// Tail is the position of the newest event a reader may read now (the zero position
	// for an empty log).
	Tail(ctx context.Context) (events.Position, error)
	// After reads up to limit entries of kinds after p, oldest first, of one workspace
	// (or of all when ws is NilID), with the rule of events.Positions.After: only
	// transactions no running one precedes, so a later read never finds one before p.
	After(ctx context.Context, p events.Position, ws domain.ID, kinds []domain.EventKind, limit int) ([]Entry, error)
	// At returns when the workspace's event at p was appended; ok is false when the
	// workspace has no event there.
	At(ctx context.Context, ws domain.ID, p events.Position) (at time.Time, ok bool, err error)
}

// ErrClosed ends a stream whose instance is shutting down.
var ErrClosed = errors.New("live: shutting down")

// ErrSlow ends a stream that did not keep up: its buffer filled. It can resume.
var ErrSlow = errors.New("live: subscriber too slow")

// ErrRevoked ends the streams of a member whose role changed or who was removed: what
// they may see changed, so they open a new stream (or are refused one).
var ErrRevoked = errors.New("live: membership changed")

const (
	// pageSize is how many entries one read of the log takes.
	pageSize = 500
	// Buffer is how many events wait for a stream before it is dropped as slow.
	Buffer = 256
	// Poll is how often the hub reads the log without being woken: a transaction that
	// appended nothing can still hold back, until it ends, events that committed after it
	// began, and its end notifies nobody.
	Poll = 250 * time.Millisecond
)

// Hub reads the log as it grows and hands its events to the subscriptions of this
// instance. It never waits for a subscriber: one whose buffer is full is dropped.
type Hub struct {
	feed  Feed
	log   *slog.Logger
	kinds []domain.EventKind
	wake  chan struct{}

	mu     sync.Mutex
	pos    events.Position // every event up to here was handed out
	ready  chan struct{}   // closed once pos is known
	subs   map[domain.ID]map[*Subscription]struct{}
	closed bool
}

// NewHub returns a hub over feed; Run makes it read.
func NewHub(feed Feed, log *slog.Logger) *Hub {
	return &Hub{feed: feed, log: log, kinds: Kinds(), wake: make(chan struct{}, 1), ready: make(chan struct{}),
		subs: map[domain.ID]map[*Subscription]struct{}{}}
}

// Wake asks the hub to read the log now (a NOTIFY arrived). It never blocks.
func (h *Hub) Wake() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Run reads the log from its current end until ctx ends: at once when woken, and every
// Poll otherwise.
func (h *Hub) Run(ctx context.Context) {
	tick := time.NewTicker(Poll)
	defer tick.Stop()
	started := false
	for {
		if !started {
			pos, err := h.feed.Tail(ctx)
			if err == nil {
				h.mu.Lock()
				h.pos, started = pos, true
				h.mu.Unlock()
				close(h.ready)
			} else if ctx.Err() == nil {
				h.log.Warn("live events: reading the log's end", "err", err)
			}
		} else if err := h.read(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("live events: reading the log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-tick.C:
		}
	}
}

// read hands out every event after the hub's position, a page at a time.
func (h *Hub) read(ctx context.Context) error {
	for {
		h.mu.Lock()
		from := h.pos
		h.mu.Unlock()
		page, err := h.feed.After(ctx, from, domain.NilID, h.kinds, pageSize)
		if err != nil || len(page) == 0 {
			return err
		}
		evs := make([]*Event, 0, len(page))
		for _, e := range page {
			ev, ok, err := build(e)
			if err != nil {
				return err
			}
			if ok {
				evs = append(evs, ev)
			}
		}
		h.publish(evs, page[len(page)-1].Position())
		if len(page) < pageSize {
			return nil
		}
	}
}

// publish hands evs to the subscriptions that may see them and moves the position, in
// one step: a subscription gets exactly the events after the position it started at.
func (h *Hub) publish(evs []*Event, to events.Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for _, ev := range evs {
		for s := range h.subs[ev.workspace] {
			if ev.revokes != nil && s.viewer.User == *ev.revokes {
				h.drop(s, ErrRevoked)
				continue
			}
			if !s.viewer.Sees(ev) {
				continue
			}
			select {
			case s.c <- ev:
			default:
				h.drop(s, ErrSlow)
			}
		}
	}
	h.pos = to
}

// Subscribe starts a subscription for viewer; at is the position after which it receives
// events (every one up to it was handed out before). It waits until the hub knows where
// the log ends.
func (h *Hub) Subscribe(ctx context.Context, viewer Viewer) (s *Subscription, at events.Position, err error) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, at, ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, at, ErrClosed
	}
	s = &Subscription{hub: h, viewer: viewer, c: make(chan *Event, Buffer)}
	if h.subs[viewer.Workspace] == nil {
		h.subs[viewer.Workspace] = map[*Subscription]struct{}{}
	}
	h.subs[viewer.Workspace][s] = struct{}{}
	return s, h.pos, nil
}

// Subscribers counts the open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.subs {
		n += len(m)
	}
	return n
}

// Close ends every subscription (ErrClosed) and refuses new ones: the instance is
// stopping, and its streams end cleanly so that clients reconnect elsewhere.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, m := range h.subs {
		for s := range m {
			h.drop(s, ErrClosed)
		}
	}
}

// drop ends s with err; h.mu is held.
func (h *Hub) drop(s *Subscription, err error) {
	m := h.subs[s.viewer.Workspace]
	if _, ok := m[s]; !ok {
		return
	}
	delete(m, s)
	if len(m) == 0 {
		delete(h.subs, s.viewer.Workspace)
	}
	s.err = err
	close(s.c)
}

// Subscription is one stream's share of the hub.
type Subscription struct {
	hub    *Hub
	viewer Viewer
	c      chan *Event
	err    error // why c was closed; written before the close
}

// C delivers the events; it is closed when the hub drops the subscription (Err says why).
func (s *Subscription) C() <-chan *Event { return s.c }

// Err is why C was closed: ErrSlow, ErrRevoked or ErrClosed (nil while it is open or
// after Close).
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription (the stream went away).
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.drop(s, nil)
}
