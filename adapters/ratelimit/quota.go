package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/wabaplatform/waba/application/messaging"
)

// Quota is the per-minute send quota of workspaces: one fixed one-minute window per key on
// the shared store. The limit is given per call (it is the workspace's plan, read on each
// request), so a plan change applies at once to the running window.
type Quota struct {
	store limiter.Store

	mu       sync.Mutex
	limiters map[int]*limiter.Limiter
}

// NewQuota returns the quota over store (memory, or Redis shared by every instance).
func NewQuota(store limiter.Store) *Quota {
	return &Quota{store: store, limiters: map[int]*limiter.Limiter{}}
}

func (q *Quota) limiter(perMinute int) *limiter.Limiter {
	q.mu.Lock()
	defer q.mu.Unlock()
	l, ok := q.limiters[perMinute]
	if !ok {
		l = limiter.New(q.store, limiter.Rate{Period: time.Minute, Limit: int64(perMinute)})
		q.limiters[perMinute] = l
	}
	return l
}

// Take counts one request against key.
func (q *Quota) Take(ctx context.Context, key string, perMinute int) (messaging.QuotaState, error) {
	st, err := q.limiter(perMinute).Get(ctx, key)
	return state(st), err
}

// Peek reads key's counter without counting.
func (q *Quota) Peek(ctx context.Context, key string, perMinute int) (messaging.QuotaState, error) {
	st, err := q.limiter(perMinute).Peek(ctx, key)
	return state(st), err
}

func state(c limiter.Context) messaging.QuotaState {
	return messaging.QuotaState{Limit: int(c.Limit), Remaining: int(c.Remaining), Reset: time.Unix(c.Reset, 0), Reached: c.Reached}
}

// TakeUpTo counts up to n sends against key in the current window, leaving keep of the
// window's perMinute to other senders (campaigns.Quota): it reads the counter, adds what
// fits, and returns what fit after the add (a concurrent sender may have taken part of it
// meanwhile: what it added over the ceiling is not granted, only counted).
func (q *Quota) TakeUpTo(ctx context.Context, key string, perMinute, keep, n int) (int, time.Time, error) {
	l := q.limiter(perMinute)
	st, err := l.Peek(ctx, key)
	if err != nil {
		return 0, time.Time{}, err
	}
	reset := time.Unix(st.Reset, 0)
	want := min(n, int(st.Remaining)-keep)
	if want <= 0 {
		return 0, reset, nil
	}
	st, err = l.Increment(ctx, key, int64(want))
	if err != nil {
		return 0, reset, err
	}
	if st.Reached {
		return 0, time.Unix(st.Reset, 0), nil // others spent the window meanwhile
	}
	// Remaining is what is left after the add: short of keep by as much as others took
	// meanwhile.
	granted := want - max(0, keep-int(st.Remaining))
	return max(granted, 0), time.Unix(st.Reset, 0), nil
}
