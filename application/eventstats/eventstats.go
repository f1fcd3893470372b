// Package eventstats counts the event log by kind: the log's first subscriber. It lets an
// operator watch, and alert on, the rate of each fact: opt-outs after a campaign, sends
// that failed, logins refused.
//
// Delivery is at least once, so a batch delivered again after a crash is counted twice:
// a rate, not a ledger.
package eventstats

import (
	"context"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// Counter adds n to the count of kind.
type Counter interface {
	Add(kind domain.EventKind, n int)
}

// Subscriber is the counting subscriber.
type Subscriber struct{ c Counter }

// New returns the subscriber counting into c.
func New(c Counter) *Subscriber { return &Subscriber{c: c} }

// Name implements events.Subscriber.
func (*Subscriber) Name() string { return "stats" }

// Handle implements events.Subscriber.
func (s *Subscriber) Handle(_ context.Context, batch []events.Logged) error {
	counts := map[domain.EventKind]int{}
	for _, e := range batch {
		counts[e.Kind]++
	}
	for k, n := range counts {
		s.c.Add(k, n)
	}
	return nil
}
