package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports pgxpool statistics to Prometheus, each pool's labelled with its name.
type PoolCollector struct {
	pools                                   []NamedPool
	total, idle, acquired, max              *prometheus.Desc
	acquireCount, acquireWait, emptyAcquire *prometheus.Desc
}

// NamedPool is a pool and the name of its pool label.
type NamedPool struct {
	Name string
	Pool *pgxpool.Pool
}

// NewPoolCollector returns a collector reading each pool's Stat() at every scrape.
func NewPoolCollector(pools ...NamedPool) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("pgxpool_"+name, help, []string{"pool"}, nil)
	}
	return &PoolCollector{
		pools:        pools,
		total:        d("total_conns", "Connections open in the pool."),
		idle:         d("idle_conns", "Idle connections."),
		acquired:     d("acquired_conns", "Connections in use."),
		max:          d("max_conns", "Pool size limit."),
		acquireCount: d("acquire_total", "Successful acquires."),
		acquireWait:  d("acquire_wait_seconds_total", "Time spent waiting for a connection."),
		emptyAcquire: d("empty_acquire_total", "Acquires that had to wait because the pool was empty."),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.max, c.acquireCount, c.acquireWait, c.emptyAcquire} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pools {
		s := p.Pool.Stat()
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()), p.Name)
		ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()), p.Name)
		ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()), p.Name)
		ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxConns()), p.Name)
		ch <- prometheus.MustNewConstMetric(c.acquireCount, prometheus.CounterValue, float64(s.AcquireCount()), p.Name)
		ch <- prometheus.MustNewConstMetric(c.acquireWait, prometheus.CounterValue, s.AcquireDuration().Seconds(), p.Name)
		ch <- prometheus.MustNewConstMetric(c.emptyAcquire, prometheus.CounterValue, float64(s.EmptyAcquireCount()), p.Name)
	}
}
