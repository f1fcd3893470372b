// Package ratelimit holds the ulule/limiter counters: in memory by default, in Redis when
// REDIS_URL is set so several instances share one count.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"

	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/wabaplatform/waba/application/identity"
)

// NewStore returns the Redis store when redisURL is set, else an in-memory one.
func NewStore(redisURL string) (limiter.Store, func() error, error) {
	opts := limiter.StoreOptions{Prefix: "waba_rl", CleanUpInterval: time.Minute}
	if redisURL == "" {
		return memory.NewStoreWithOptions(opts), func() error { return nil }, nil
	}
	o, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	client := redis.NewClient(o)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	store, err := redisstore.NewStoreWithOptions(client, opts)
	if err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	return store, client.Close, nil
}

// LoginThrottle counts failed logins: 10 per email and 100 per client address in 15
// minutes (API.md).
type LoginThrottle struct {
	limiters map[identity.LoginLimit]*limiter.Limiter
}

// NewLoginThrottle returns the throttle over store.
func NewLoginThrottle(store limiter.Store) *LoginThrottle {
	perEmail, perAddress := limiter.Rate{Period: 15 * time.Minute, Limit: 10}, limiter.Rate{Period: 15 * time.Minute, Limit: 100}
	return &LoginThrottle{limiters: map[identity.LoginLimit]*limiter.Limiter{
		identity.PerEmail:               limiter.New(store, perEmail),
		identity.PerAddress:             limiter.New(store, perAddress),
		identity.ResetPerEmail:          limiter.New(store, perEmail),
		identity.ResetPerAddress:        limiter.New(store, perAddress),
		identity.ResetConfirmPerAddress: limiter.New(store, perAddress),
	}}
}

func (t *LoginThrottle) limiter(l identity.LoginLimit) (*limiter.Limiter, error) {
	lim, ok := t.limiters[l]
	if !ok {
		return nil, fmt.Errorf("unknown login limit %q", l)
	}
	return lim, nil
}

// Peek reads a counter; Remaining reaches 0 when the limit's failures are used up.
func (t *LoginThrottle) Peek(ctx context.Context, l identity.LoginLimit, key string) (identity.Throttle, error) {
	lim, err := t.limiter(l)
	if err != nil {
		return identity.Throttle{}, err
	}
	st, err := lim.Peek(ctx, "login:"+string(l)+":"+key)
	if err != nil {
		return identity.Throttle{}, err
	}
	return identity.Throttle{Limit: int(st.Limit), Remaining: int(st.Remaining), Reset: time.Unix(st.Reset, 0)}, nil
}

// Fail counts one failure.
func (t *LoginThrottle) Fail(ctx context.Context, l identity.LoginLimit, key string) error {
	lim, err := t.limiter(l)
	if err != nil {
		return err
	}
	_, err = lim.Get(ctx, "login:"+string(l)+":"+key)
	return err
}
