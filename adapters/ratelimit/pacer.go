package ratelimit

import (
	"context"
	"time"

	"github.com/ulule/limiter/v3"
)

// huge is the limit of the counting limiters below: never reached, so Remaining tells the
// exact count (huge - Remaining) even past the rate we enforce ourselves.
const huge = int64(1) << 50

// Pacer spaces sends per phone number across every worker instance, on the same store as
// the quotas. Each key counts claims in one-second windows; the first perSecond claims of a
// window may send at once, and the n-th claim past them is given the slot n/perSecond
// seconds after the window ends, so a backlog is spread over the seconds ahead instead of
// every waiting job retrying at the same instant.
type Pacer struct {
	window *limiter.Limiter
	pair   *limiter.Limiter
}

// NewPacer returns a pacer over store.
func NewPacer(store limiter.Store) *Pacer {
	return &Pacer{
		window: limiter.New(store, limiter.Rate{Period: time.Second, Limit: huge}),
		pair:   limiter.New(store, limiter.Rate{Period: 15 * time.Minute, Limit: huge}),
	}
}

// Take claims one send on key.
func (p *Pacer) Take(ctx context.Context, key string, perSecond int) (time.Duration, error) {
	st, err := p.window.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	n := huge - st.Remaining // this claim's position in the window, from 1
	if n <= int64(perSecond) {
		return 0, nil
	}
	// Reset has a resolution of one second: wait at least until it, plus the slot.
	untilReset := max(time.Until(time.Unix(st.Reset, 0)), 50*time.Millisecond)
	over := n - int64(perSecond) - 1
	return untilReset + time.Duration(over)*time.Second/time.Duration(perSecond), nil
}

// Strike counts a pair-limit refusal for key and returns the count in the last 15 minutes.
func (p *Pacer) Strike(ctx context.Context, key string) (int, error) {
	st, err := p.pair.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	return int(huge - st.Remaining), nil
}
