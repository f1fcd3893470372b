package campaigns

import (
	"context"
	"errors"
	"time"

	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

// CapacityWait is how long a split campaign waits, when its number's messaging limit is
// reached, before it looks again. The limit frees as the oldest sends leave the 24-hour
// window; looking every CapacityWait instead of sleeping until then also notices a tier
// Meta raised (and a clock moved in tests).
const CapacityWait = 15 * time.Second

// capacity is what the number has left of its messaging limit. The 24-hour count is read
// only for a limited tier: an unlimited number's batches never pay for it.
func capacity(ctx context.Context, r Repos, ws domain.ID, number domain.PhoneNumber, now time.Time) (domain.Capacity, error) {
	c := domain.CapacityOf(number.MessagingLimitTier, 0)
	if !c.Limited {
		return c, nil
	}
	used, err := r.Reach.Reached(ctx, ws, number.PhoneNumberID, now.Add(-domain.MessagingWindow))
	c.Used = used
	return c, err
}

// fits refuses to start a campaign without split whose toSend recipients would pass what
// is left of its number's messaging limit (KindCapacityExceeded, saying how many fit).
// Every recipient counts, those a batch will skip too: a slight overestimate, on the safe
// side.
func fits(ctx context.Context, r Repos, cp domain.Campaign, number domain.PhoneNumber, action domain.CampaignAction, toSend int, now time.Time) error {
	if cp.Split {
		return nil
	}
	c, err := capacity(ctx, r, cp.WorkspaceID, number, now)
	if err != nil {
		return err
	}
	err = c.Check(toSend)
	var de *domain.Error
	if action == domain.CampaignLaunch && errors.As(err, &de) {
		return domain.Errorf(de.Kind, "%s; launch with split:true to send those now and the rest as the limit frees", de.Message)
	}
	return err
}

// batchSize is how many recipients the campaign's next batch may take: its fair share of
// the number's campaign pace (CampaignPace) with the number's other running campaigns, for
// span, within what is left of the number's messaging limit (0 when it is reached).
func batchSize(ctx context.Context, r Repos, cp domain.Campaign, number domain.PhoneNumber, perMinute int, span time.Duration, now time.Time) (int, error) {
	running, err := r.Reach.RunningOn(ctx, cp.WorkspaceID, number.PhoneNumberID)
	if err != nil {
		return 0, err
	}
	c, err := capacity(ctx, r, cp.WorkspaceID, number, now)
	if err != nil {
		return 0, err
	}
	size := int(float64(domain.FairShare(CampaignPace(number, perMinute), running)) * span.Seconds())
	// At least MinBatch (within the number's own share): a small plan's campaign is not
	// dripped a message or two a second; the quota still bounds its minute.
	floor := min(MinBatch, domain.FairShare(messaging.Throughput(number), running))
	return min(max(size, floor), c.Left()), nil
}

// MinBatch is the fewest recipients a batch takes when the pace would give it fewer.
const MinBatch = 20

// CampaignPace is how many messages a second a number's campaigns queue together: the
// number's throughput, or, when it is lower, the plan's per-minute quota less the API's
// share (QuotaLeftToAPI) spread evenly over the minute. The quota would let a campaign
// queue its whole minute in its first seconds and then wait for the next: the same
// messages a minute, but sent in bursts that take every CPU from the API's requests and
// the status webhooks for as long as they last.
func CampaignPace(number domain.PhoneNumber, perMinute int) int {
	return max(min(messaging.Throughput(number), perMinute*(100-QuotaLeftToAPI)/100/60), 1)
}

// limitReached is a batch's end when recipients wait and the number's messaging limit is
// reached: a split campaign waits for it to free, another pauses (capacity) for a person
// to decide.
func (s *Service) limitReached(ctx context.Context, r Repos, cp domain.Campaign, now time.Time, step *Step) error {
	if cp.Split {
		step.Wait, step.Reason = CapacityWait, "messaging limit reached"
		return nil
	}
	step.Done, step.Reason = true, "paused: messaging limit reached"
	return pause(ctx, r, cp, domain.PauseCapacity, now)
}
