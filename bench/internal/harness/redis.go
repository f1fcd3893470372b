package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// FlushRedisDB empties the one Redis database of url (FLUSHDB: that database only).
func FlushRedisDB(ctx context.Context, url string) error {
	o, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	if o.DB == 0 {
		return fmt.Errorf("refusing to flush Redis database 0 (%s): give the suite a database of its own", url)
	}
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.FlushDB(ctx).Err()
}
