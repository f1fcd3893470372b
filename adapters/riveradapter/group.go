package riveradapter

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errGroupClosed is what submit returns once the group is closing.
var errGroupClosed = errors.New("group is closed")

// groupConfig tunes a group. Zero caps mean no cap.
type groupConfig struct {
	// Window is how long the first item of a batch waits for others; with 0 a batch goes
	// as soon as a flusher is free, and grows only while every flusher is busy. (Handing
	// over is one select with taking the next item, so with a backlog a batch holds what
	// came before a flusher was free, not everything waiting: draining the backlog first
	// made ingest slower, see docs/ARCHITECTURE.md.)
	Window time.Duration
	// MaxBatch caps the items of one batch.
	MaxBatch int
	// MaxBatchBytes caps the summed size of one batch; a single larger item still goes alone.
	MaxBatchBytes int
	// Flushers is how many batches may be flushed at once.
	Flushers int
}

// group gathers items submitted concurrently into batches and hands each batch to one of
// a fixed number of flushers: the group commit behind webhook ingest (many acknowledgements,
// one commit) and webhook processing (many jobs, one transaction). While every flusher is
// busy the next batch keeps growing, so under load batches form by themselves. Reporting
// results back to the submitters is the flush function's business.
type group[T any] struct {
	cfg     groupConfig
	size    func(T) int
	flush   func([]T)
	items   chan T
	batches chan []T
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
	mu      sync.RWMutex // held for reading while sending to items; close takes it to stop senders
	closed  bool
}

// newGroup starts a group; size measures an item for MaxBatchBytes (nil: bytes are not
// capped). cfg.MaxBatch and cfg.Flushers must be positive.
func newGroup[T any](cfg groupConfig, size func(T) int, flush func([]T)) *group[T] {
	if size == nil {
		size = func(T) int { return 0 }
	}
	g := &group[T]{
		cfg:     cfg,
		size:    size,
		flush:   flush,
		items:   make(chan T, cfg.MaxBatch*4),
		batches: make(chan []T),
		stop:    make(chan struct{}),
	}
	g.wg.Add(1 + cfg.Flushers)
	go g.collect()
	for range cfg.Flushers {
		go func() {
			defer g.wg.Done()
			for batch := range g.batches {
				g.flush(batch)
			}
		}()
	}
	return g
}

// submit hands it to the group; once it returns nil, it will be flushed (even if the group
// is closed meanwhile). It fails when ctx ends first or the group is closing.
func (g *group[T]) submit(ctx context.Context, it T) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return errGroupClosed
	}
	select {
	case g.items <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops accepting, flushes what was already accepted, and waits for the flushers.
func (g *group[T]) close() {
	g.stopped.Do(func() {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		close(g.stop)
		g.wg.Wait()
	})
}

func (g *group[T]) full(n, size int) bool {
	return (g.cfg.MaxBatch > 0 && n >= g.cfg.MaxBatch) || (g.cfg.MaxBatchBytes > 0 && size >= g.cfg.MaxBatchBytes)
}

func (g *group[T]) collect() {
	defer g.wg.Done()
	defer close(g.batches)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first T
		select {
		case first = <-g.items:
		case <-g.stop:
			g.drain()
			return
		}
		batch := []T{first}
		size := g.size(first)
		add := func(it T) {
			batch = append(batch, it)
			size += g.size(it)
		}
		if g.cfg.Window > 0 {
			timer.Reset(g.cfg.Window)
		window:
			for !g.full(len(batch), size) {
				select {
				case it := <-g.items:
					add(it)
				case <-timer.C:
					break window
				case <-g.stop:
					break window
				}
			}
			timer.Stop()
		}
	handoff:
		for {
			if g.full(len(batch), size) {
				g.batches <- batch
				break
			}
			select {
			case g.batches <- batch:
				break handoff
			case it := <-g.items:
				add(it)
			}
		}
	}
}

// drain hands over what is left after stop (submitters are already shut out).
func (g *group[T]) drain() {
	for {
		var batch []T
		size := 0
	fill:
		for !g.full(len(batch), size) {
			select {
			case it := <-g.items:
				batch = append(batch, it)
				size += g.size(it)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return
		}
		g.batches <- batch
	}
}
