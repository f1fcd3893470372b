// Package hotpath holds Go benchmarks of hot functions whose own packages have none: the
// plan quota check (adapters/ratelimit) on the memory store and, when Redis answers on
// 127.0.0.1:6379, on the Redis store. `make bench` runs them with the benchmarks of
// adapters/meta/webhook, domain/optout, adapters/vault and adapters/casbinrbac.
package hotpath
