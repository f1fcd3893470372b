package riveradapter

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// QueueDepthCollector exports the number of River jobs by queue and state, counted in
// river_job at scrape time (bounded by a short timeout: a slow count yields no sample
// rather than a slow scrape).
type QueueDepthCollector struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	jobs    *prometheus.Desc
	errors  prometheus.Counter
}

// NewQueueDepthCollector returns the collector; register it on the registry.
func NewQueueDepthCollector(pool *pgxpool.Pool) *QueueDepthCollector {
	return &QueueDepthCollector{
		pool:    pool,
		timeout: 2 * time.Second,
		jobs:    prometheus.NewDesc("river_jobs", "River jobs by queue and state, but for completed ones (kept a day, for deduplication: counting them would scan the table).", []string{"queue", "state"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "river_jobs_scrape_errors_total", Help: "Queue depth scrapes that failed or timed out."}),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueDepthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *QueueDepthCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	rows, err := c.pool.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job WHERE state <> 'completed' GROUP BY queue, state`)
	if err != nil {
		c.errors.Inc()
		return
	}
	defer rows.Close()
	for rows.Next() {
		var queue, state string
		var n int64
		if err := rows.Scan(&queue, &state, &n); err != nil {
			c.errors.Inc()
			return
		}
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), queue, state)
	}
	if rows.Err() != nil {
		c.errors.Inc()
	}
}
