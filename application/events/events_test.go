package events_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/events/eventstest"
	"github.com/wabaplatform/waba/domain"
)

type recorder struct {
	name string
	got  []int64
	fail error
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Handle(_ context.Context, batch []events.Logged) error {
	if r.fail != nil {
		return r.fail
	}
	for _, e := range batch {
		r.got = append(r.got, e.ID)
	}
	return nil
}

func appendN(t *testing.T, log *eventstest.Memory, n int) {
	t.Helper()
	ws := domain.NewID()
	for i := range n {
		require.NoError(t, log.Append(context.Background(), domain.Occurred(domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws},
			time.Now(), domain.ContactUpdated{ContactID: domain.NewID(), Fields: []string{fmt.Sprint(i)}})))
	}
}

func TestDeliverHandsEachSubscriberTheLogInBatchesFromItsPosition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := eventstest.NewMemory()
	ok, broken := &recorder{name: "ok"}, &recorder{name: "broken", fail: errors.New("down")}
	d := events.NewDispatcher(log, []events.Subscriber{ok, broken}, time.Now)
	require.Equal(t, []string{"broken", "ok"}, d.Names())
	appendN(t, log, events.BatchSize+3)

	more, err := d.Deliver(ctx, "ok")
	require.NoError(t, err)
	require.True(t, more, "a full batch: there may be more")
	require.Len(t, ok.got, events.BatchSize)
	more, err = d.Deliver(ctx, "ok")
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, ok.got, events.BatchSize+3)
	for i, id := range ok.got {
		require.Equal(t, int64(i+1), id, "in order, once")
	}
	more, err = d.Deliver(ctx, "ok")
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, ok.got, events.BatchSize+3, "nothing new, nothing delivered")

	// A failing subscriber stays where it was; the other was not held back.
	_, err = d.Deliver(ctx, "broken")
	require.Error(t, err)
	broken.fail = nil
	for more = true; more; {
		more, err = d.Deliver(ctx, "broken")
		require.NoError(t, err)
	}
	require.Equal(t, ok.got, broken.got, "from the start, once")

	_, err = d.Deliver(ctx, "nobody")
	require.Equal(t, domain.KindNotFound, domain.KindOf(err))
}

func TestDeliverLeavesASubscriberAnotherTransactionServes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := eventstest.NewMemory()
	sub := &recorder{name: "s"}
	d := events.NewDispatcher(log, []events.Subscriber{sub}, time.Now)
	appendN(t, log, 2)
	require.NoError(t, log.InTx(ctx, func(ctx context.Context, p events.Positions) error {
		_, claimed, err := p.Claim(ctx, "s")
		require.True(t, claimed)
		more, derr := d.Deliver(ctx, "s")
		require.NoError(t, derr)
		require.False(t, more)
		require.Empty(t, sub.got)
		return err
	}))
	_, err := d.Deliver(ctx, "s")
	require.NoError(t, err)
	require.Len(t, sub.got, 2)
}

func TestSubscriberNamesDiffer(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() {
		events.NewDispatcher(eventstest.NewMemory(), []events.Subscriber{&recorder{name: "a"}, &recorder{name: "a"}}, time.Now)
	})
}

func TestPurgeDeletesOnlyWhatEverySubscriberReadPastRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := eventstest.NewMemory()
	fast, slow := &recorder{name: "fast"}, &recorder{name: "slow"}
	old := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := old.Add(events.Retention + time.Hour) // the dispatcher's clock: old is past retention
	d := events.NewDispatcher(log, []events.Subscriber{fast, slow}, func() time.Time { return now })
	ws := domain.NewID()
	add := func(at time.Time) {
		require.NoError(t, log.Append(ctx, domain.Occurred(domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws}, at,
			domain.ContactUpdated{ContactID: domain.NewID(), Fields: []string{"name"}})))
	}
	add(old)
	add(old)

	n, err := d.Purge(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "no subscriber has read them")

	_, err = d.Deliver(ctx, "fast")
	require.NoError(t, err)
	n, err = d.Purge(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "slow has not read them")

	add(old) // read by neither
	add(now.Add(-time.Minute))
	_, err = d.Deliver(ctx, "slow")
	require.NoError(t, err)
	require.Len(t, slow.got, 4)
	n, err = d.Purge(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the two old events both have read")
	require.Len(t, log.Rows(ws), 2, "one fast has not read, one too young")

	// A subscriber reads on from where it was: nothing is skipped or repeated.
	_, err = d.Deliver(ctx, "fast")
	require.NoError(t, err)
	require.Equal(t, slow.got, fast.got)
}
