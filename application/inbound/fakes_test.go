package inbound_test

import (
	"sync"

	"github.com/wabaplatform/waba/domain"
)

// counters is an inbound.Metrics that counts.
type counters struct {
	mu       sync.Mutex
	unrouted map[string]int
	unknown  int
	out, in  int
	errs     []int
	spent    []domain.Spend
}

func (c *counters) Unrouted(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unrouted == nil {
		c.unrouted = map[string]int{}
	}
	c.unrouted[k]++
}
func (c *counters) UnknownStatus() { c.mu.Lock(); c.unknown++; c.mu.Unlock() }
func (c *counters) OptedOut()      { c.mu.Lock(); c.out++; c.mu.Unlock() }
func (c *counters) OptedIn()       { c.mu.Lock(); c.in++; c.mu.Unlock() }
func (c *counters) NotificationError(code int) {
	c.mu.Lock()
	c.errs = append(c.errs, code)
	c.mu.Unlock()
}
func (c *counters) Charged(s domain.Spend) {
	c.mu.Lock()
	c.spent = append(c.spent, s)
	c.mu.Unlock()
}
