package vault

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// cache keeps decrypted secrets for a fixed TTL, bounded in size. Every entry lives for the
// same TTL, so insertion order is expiry order: the front of the list is both the oldest and
// the first to expire, and eviction only ever looks there. Values are copied in and out, and
// zeroed when they leave.
type cache struct {
	ttl  time.Duration
	size int
	now  func() time.Time // replaced in tests

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*list.Element
	order   *list.List // of *cacheEntry, oldest first
}

type cacheEntry struct {
	key     [sha256.Size]byte
	value   []byte
	expires time.Time
}

func newCache(ttl time.Duration, size int) *cache {
	return &cache{
		ttl:     ttl,
		size:    size,
		now:     time.Now,
		entries: make(map[[sha256.Size]byte]*list.Element),
		order:   list.New(),
	}
}

// get returns a copy of the value stored under key, if it has not expired.
func (c *cache) get(key [sha256.Size]byte) ([]byte, bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.remove(el)
		return nil, false
	}
	return append([]byte(nil), e.value...), true
}

// put stores a copy of value under key for the TTL, evicting expired and then the oldest
// entries to stay within size.
func (c *cache) put(key [sha256.Size]byte, value []byte) {
	now := c.now()
	v := append([]byte(nil), value...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	for el := c.order.Front(); el != nil && !now.Before(el.Value.(*cacheEntry).expires); el = c.order.Front() {
		c.remove(el)
	}
	for c.order.Len() >= c.size {
		c.remove(c.order.Front())
	}
	c.entries[key] = c.order.PushBack(&cacheEntry{key: key, value: v, expires: now.Add(c.ttl)})
}

// len reports the number of entries, expired ones included.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *cache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.order.Front(); el != nil; el = c.order.Front() {
		c.remove(el)
	}
}

// remove drops el and zeroes its value; c.mu is held.
func (c *cache) remove(el *list.Element) {
	e := c.order.Remove(el).(*cacheEntry)
	delete(c.entries, e.key)
	clear(e.value)
}
