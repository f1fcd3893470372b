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

// LoginThrottle counts failed logins: 10 per email or 100 per client address in 15
// minutes (API.md), keyed by the prefix of the key the use case gives.
type LoginThrottle struct {
	perEmail, perIP *limiter.Limiter
}

// NewLoginThrottle returns the throttle over store.
func NewLoginThrottle(store limiter.Store) *LoginThrottle {
	return &LoginThrottle{
		perEmail: limiter.New(store, limiter.Rate{Period: 15 * time.Minute, Limit: 10}),
		perIP:    limiter.New(store, limiter.Rate{Period: 15 * time.Minute, Limit: 100}),
	}
}

func (t *LoginThrottle) limiterFor(key string) *limiter.Limiter {
	if len(key) > 9 && key[:9] == "login:ip:" {
		return t.perIP
	}
	return t.perEmail
}

// Blocked reports whether key has used up its failures (the count has reached the limit)
// and how long until the window ends.
func (t *LoginThrottle) Blocked(ctx context.Context, key string) (bool, time.Duration, error) {
	st, err := t.limiterFor(key).Peek(ctx, key)
	if err != nil {
		return false, 0, err
	}
	if st.Remaining > 0 {
		return false, 0, nil
	}
	return true, time.Until(time.Unix(st.Reset, 0)), nil
}

// Failed counts one failure.
func (t *LoginThrottle) Failed(ctx context.Context, key string) error {
	_, err := t.limiterFor(key).Get(ctx, key)
	return err
}
