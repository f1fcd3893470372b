package harness

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LoadOptions drive one webhook load run. It stops at Count requests or after Duration,
// whichever comes first (at least one must be set).
type LoadOptions struct {
	Targets     []string // base URLs, used in turn
	Concurrency int
	Duration    time.Duration
	Count       int
	// Rate > 0 paces the run at that many requests a second (open loop, Concurrency is the
	// most in flight); 0 is a closed loop (each client posts again at once).
	Rate    float64
	Gen     *Generator
	Timeout time.Duration // per request (default 10s)
	// Track keeps the wamid of every acknowledged (200) and unacknowledged request.
	Track bool
	// Done counts finished requests while the run goes (optional).
	Done *atomic.Int64
	// ErrorPause is how long a client waits after a request got no HTTP answer (a server
	// that is down refuses at once; without a pause the run would spin through its count).
	ErrorPause time.Duration
	// OnResult, when set, sees every finished request: its payload (with Body) and status.
	OnResult func(p Payload, status int, at time.Time)
}

// LoadResult is what a run observed.
type LoadResult struct {
	Requests  int
	Status    map[int]int // by HTTP status; 0 = transport error or timeout
	Elapsed   time.Duration
	Latencies []time.Duration // of acknowledged requests, sorted
	Acked     []Payload       // Body dropped; with Track
	Unacked   []Payload
}

// Acknowledged is the number of 200 answers.
func (r LoadResult) Acknowledged() int { return r.Status[http.StatusOK] }

// PerSecond is acknowledged requests per second of the run.
func (r LoadResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Acknowledged()) / r.Elapsed.Seconds()
}

// Percentile of the acknowledged latencies (p in 0..1).
func (r LoadResult) Percentile(p float64) time.Duration { return Percentile(r.Latencies, p) }

// Load runs the webhook load described by o.
func Load(ctx context.Context, o LoadOptions) LoadResult {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	hc := NewHTTPClient(o.Concurrency, o.Timeout)
	defer hc.CloseIdleConnections()
	// Tokens: one per request; closed when the run should stop issuing.
	tokens := make(chan int, o.Concurrency)
	go func() {
		defer close(tokens)
		start := time.Now()
		for i := 0; o.Count == 0 || i < o.Count; i++ {
			if o.Rate > 0 {
				due := start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case tokens <- i:
			}
		}
	}()
	type local struct {
		status  map[int]int
		lat     []time.Duration
		acked   []Payload
		unacked []Payload
	}
	locals := make([]local, o.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &locals[w]
			l.status = map[int]int{}
			for i := range tokens {
				p := o.Gen.Next()
				target := o.Targets[i%len(o.Targets)]
				t0 := time.Now()
				// Requests started before the end run to completion: their answer is known.
				status, _ := PostWebhook(context.WithoutCancel(ctx), hc, target, p.Body, p.Signature)
				el := time.Since(t0)
				l.status[status]++
				if o.OnResult != nil {
					o.OnResult(p, status, t0)
				}
				p.Body = nil
				if status == http.StatusOK {
					l.lat = append(l.lat, el)
					if o.Track {
						l.acked = append(l.acked, p)
					}
				} else if o.Track {
					l.unacked = append(l.unacked, p)
				}
				if o.Done != nil {
					o.Done.Add(1)
				}
				if status == 0 && o.ErrorPause > 0 {
					time.Sleep(o.ErrorPause)
				}
			}
		}()
	}
	wg.Wait()
	res := LoadResult{Status: map[int]int{}, Elapsed: time.Since(start)}
	for _, l := range locals {
		for k, v := range l.status {
			res.Status[k] += v
			res.Requests += v
		}
		res.Latencies = append(res.Latencies, l.lat...)
		res.Acked = append(res.Acked, l.acked...)
		res.Unacked = append(res.Unacked, l.unacked...)
	}
	slices.Sort(res.Latencies)
	return res
}

// Percentile returns the p-quantile (0..1) of sorted durations (nearest rank).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// MS renders a duration in milliseconds with one decimal.
func MS(d time.Duration) float64 { return float64(d.Microseconds()/100) / 10 }
