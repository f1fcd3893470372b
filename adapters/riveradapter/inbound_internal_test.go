package riveradapter

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/domain"
)

// panickyDirectory routes nothing, and panics for the number "666" (a bug in processing).
type panickyDirectory struct{ inbound.Directory }

func (panickyDirectory) RouteByPhoneNumberID(_ context.Context, id string) (inbound.Route, bool, error) {
	if id == "666" {
		panic("boom")
	}
	return inbound.Route{}, false, nil
}

type directTx struct{}

func (directTx) InTx(ctx context.Context, fn func(context.Context, inbound.Repos) error) error {
	return fn(ctx, inbound.Repos{Directory: panickyDirectory{}})
}

type noMetrics struct{}

func (noMetrics) Unrouted(string)       {}
func (noMetrics) UnknownStatus()        {}
func (noMetrics) OptedOut()             {}
func (noMetrics) OptedIn()              {}
func (noMetrics) NotificationError(int) {}
func (noMetrics) Charged(domain.Spend)  {}

func statusFor(phoneNumberID string) []byte {
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"phone_number_id":%q},"statuses":[{"id":"wamid.X","status":"sent"}]}}]}]}`, phoneNumberID)
}

func TestWebhookWorkerPanicFailsOnlyItsBody(t *testing.T) {
	t.Parallel()
	w := NewWebhookWorker(inbound.NewService(directTx{}, noMetrics{}), nil, 0)
	defer w.Close()
	var batch []*processReq
	for _, id := range []string{"1", "666", "2"} {
		body, err := webhook.Translate(statusFor(id))
		require.NoError(t, err)
		batch = append(batch, &processReq{body: body, done: make(chan error, 1)})
	}
	w.process(batch) // the panic must not escape: it would take the process down
	require.NoError(t, <-batch[0].done)
	err := <-batch[1].done
	require.True(t, errors.Is(err, errPanicked), "got %v", err)
	require.ErrorContains(t, err, "boom")
	require.NoError(t, <-batch[2].done)
}

// failingDirectory fails every lookup, as when the database is down.
type failingDirectory struct{ inbound.Directory }

var errDown = errors.New("database is down")

func (failingDirectory) RouteByPhoneNumberID(context.Context, string) (inbound.Route, bool, error) {
	return inbound.Route{}, false, errDown
}

type downTx struct{}

func (downTx) InTx(ctx context.Context, fn func(context.Context, inbound.Repos) error) error {
	return fn(ctx, inbound.Repos{Directory: failingDirectory{}})
}

// When every body of a batch job fails the same way, the job is retried whole rather than
// split into a job per body (which would need a River client: Work would panic without one).
func TestWebhookBatchAllFailedRetriesTheJob(t *testing.T) {
	t.Parallel()
	w := NewWebhookWorker(inbound.NewService(downTx{}, noMetrics{}), nil, 0)
	defer w.Close()
	job := &river.Job[WebhookBatchArgs]{JobRow: &rivertype.JobRow{},
		Args: WebhookBatchArgs{Bodies: []WebhookArgs{NewWebhookArgs(statusFor("1")), NewWebhookArgs(statusFor("2"))}}}
	err := w.Batches().Work(context.Background(), job)
	require.ErrorIs(t, err, errDown)
}
