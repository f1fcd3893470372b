package hooks

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// EndpointRef names one endpoint.
type EndpointRef struct {
	WorkspaceID domain.ID
	EndpointID  domain.ID
}

// Holder is the run of a delivery job that leases what it claims: the job's id, which it
// keeps when it is retried or rescued from a dead process, and the run's attempt, which
// River increments on every run. The zero Holder takes back nothing.
type Holder struct {
	Job     int64
	Attempt int
}

// DeliveryFilter narrows an endpoint's deliveries; empty fields do not filter.
type DeliveryFilter struct {
	Status domain.HookDeliveryStatus
	// Cursor is the id of the last delivery of the previous page (newest first).
	Cursor domain.ID
}

// Result is what one attempt made of a delivery.
type Result struct {
	WorkspaceID    domain.ID
	ID             domain.ID
	Status         domain.HookDeliveryStatus
	Attempts       int
	ResponseStatus *int
	ResponseBody   string
	Error          string
	DurationMS     int
	NextAttemptAt  *time.Time // nil once succeeded or dead
	At             time.Time
}

// Store keeps endpoints and their deliveries (over the pool, or a transaction).
type Store interface {
	InsertEndpoint(ctx context.Context, e domain.HookEndpoint) error
	// Endpoint reads one endpoint (KindNotFound when none); forUpdate locks it.
	Endpoint(ctx context.Context, ws, id domain.ID, forUpdate bool) (domain.HookEndpoint, error)
	// Endpoints lists a workspace's endpoints, oldest first.
	Endpoints(ctx context.Context, ws domain.ID) ([]domain.HookEndpoint, error)
	// UpdateEndpoint writes every field but the id, workspace and created_at.
	UpdateEndpoint(ctx context.Context, e domain.HookEndpoint) error
	DeleteEndpoint(ctx context.Context, ws, id domain.ID) error
	// Subscribers lists the enabled endpoints of the workspaces, in one query.
	Subscribers(ctx context.Context, workspaces []domain.ID) ([]domain.HookEndpoint, error)
	// InsertDeliveries stores new deliveries in one statement; one whose (endpoint,
	// event_id) exists already is left out (a batch of the log delivered again).
	InsertDeliveries(ctx context.Context, ds []domain.HookDelivery) error
	// Delivery reads one delivery (KindNotFound when none).
	Delivery(ctx context.Context, ws, id domain.ID) (domain.HookDelivery, error)
	// Deliveries lists up to limit deliveries of an endpoint, newest first, below f.Cursor.
	Deliveries(ctx context.Context, ws, endpointID domain.ID, f DeliveryFilter, limit int) ([]domain.HookDelivery, error)
	// RetryDelivery makes a delivery due at at again (pending), whatever its status.
	RetryDelivery(ctx context.Context, ws, id domain.ID, at time.Time) error
	// Claim takes up to limit deliveries of the endpoint, if it is enabled, pending or failed
	// and either due at now (next_attempt_at <= now) or leased by an earlier run of the same
	// job (h.Job, an attempt below h.Attempt), skipping rows another transaction holds; it
	// pushes their next_attempt_at to leaseUntil and records h as their holder. A process
	// that dies while sending them leaves them to the job's next run (the rescued job) or,
	// failing that, to anyone once the lease runs out: a duplicate, never a loss.
	Claim(ctx context.Context, ref EndpointRef, h Holder, now, leaseUntil time.Time, limit int) ([]domain.HookDelivery, error)
	// Record writes what attempts made of deliveries, in one statement, and ends their leases.
	Record(ctx context.Context, rs []Result) error
	// DueEndpoints lists up to limit enabled endpoints with deliveries due at now.
	DueEndpoints(ctx context.Context, now time.Time, limit int) ([]EndpointRef, error)
}

// Jobs wakes endpoints' delivery jobs in the current transaction.
type Jobs interface {
	// WakeEndpoints makes sure each endpoint has a delivery job to run (one at most each).
	WakeEndpoints(ctx context.Context, refs []EndpointRef) error
}

// Repos is what a transaction offers these use cases.
type Repos struct {
	Hooks  Store
	Events events.Log
	Jobs   Jobs
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Vault seals and opens endpoints' secrets.
type Vault interface {
	Seal(ctx context.Context, plaintext []byte, b domain.SecretBinding) (domain.Sealed, error)
	Open(ctx context.Context, s domain.Sealed, b domain.SecretBinding) ([]byte, error)
}

// Checker checks an endpoint URL against the address policy, resolving its host: a
// *domain.Error of KindValidation on the url field when it may not be used.
type Checker interface {
	CheckURL(ctx context.Context, raw string) error
}

// Request is one attempt to send.
type Request struct {
	URL     string
	Headers map[string]string
	Body    []byte
}

// Response is what the receiver answered: Status 0 and Err when there was no answer (a
// refused address, a timeout, a connection failure).
type Response struct {
	Status int
	Body   string // at most domain.HookResponseLimit bytes
	Err    error
}

// Sender makes attempts: no redirect followed, every dial checked against the address
// policy, a time limit per attempt.
type Sender interface {
	Send(ctx context.Context, r Request) Response
}

// Metrics counts attempts by outcome ("succeeded", "failed", "dead") and their latency.
type Metrics interface {
	Attempt(outcome domain.HookDeliveryStatus, d time.Duration)
}
