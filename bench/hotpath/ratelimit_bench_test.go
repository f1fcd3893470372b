package hotpath_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/wabaplatform/waba/adapters/ratelimit"
)

// redisBenchURL uses a Redis database of its own; the keys it makes expire within a minute.
const redisBenchURL = "redis://127.0.0.1:6379/13"

func quotaBench(b *testing.B, store limiter.Store) {
	q := ratelimit.NewQuota(store)
	ctx := context.Background()
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:ws:%d:%d", time.Now().UnixNano(), i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := q.Take(ctx, keys[i%len(keys)], 1_000_000_000); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkQuotaTake(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		store, closeFn, err := ratelimit.NewStore("")
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = closeFn() }()
		quotaBench(b, store)
	})
	b.Run("redis", func(b *testing.B) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:6379", 200*time.Millisecond)
		if err != nil {
			b.Skip("no Redis on 127.0.0.1:6379")
		}
		c.Close()
		// Redis answered: a store that cannot be made now is a failure, not a reason to skip.
		store, closeFn, err := ratelimit.NewStore(redisBenchURL)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = closeFn() }()
		quotaBench(b, store)
	})
}
