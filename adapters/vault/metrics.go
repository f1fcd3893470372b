package vault

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values of vault_operations_total.
const (
	opSeal   = "seal"
	opOpen   = "open"
	opRewrap = "rewrap"

	cacheHit  = "hit"
	cacheMiss = "miss"
	cacheNone = "none"
)

// metrics counts operations; a nil *metrics counts nothing.
type metrics struct {
	ops *prometheus.CounterVec
}

// newMetrics registers vault_operations_total with r, or reuses the counter already
// registered there by another vault (the old and new vaults of a rotation share it).
func newMetrics(r prometheus.Registerer) (*metrics, error) {
	if r == nil {
		return nil, nil
	}
	ops := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vault_operations_total",
		Help: "Vault operations by kind (seal, open, rewrap), result (ok, error) and plaintext cache use (hit, miss, none).",
	}, []string{"op", "result", "cache"})
	if err := r.Register(ops); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("vault: register metrics: %w", err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			return nil, fmt.Errorf("vault: register metrics: %w", err)
		}
		ops = existing
	}
	return &metrics{ops: ops}, nil
}

func (m *metrics) observe(op string, err error, cache string) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.ops.WithLabelValues(op, result, cache).Inc()
}
