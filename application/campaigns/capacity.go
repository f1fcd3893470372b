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
// the number's throughput with the number's other running campaigns, within what is left
// of the number's messaging limit (0 when it is reached).
func batchSize(ctx context.Context, r Repos, cp domain.Campaign, number domain.PhoneNumber, span time.Duration, now time.Time) (int, error) {
	running, err := r.Reach.RunningOn(ctx, cp.WorkspaceID, number.PhoneNumberID)
	if err != nil {
		return 0, err
	}
	c, err := capacity(ctx, r, cp.WorkspaceID, number, now)
	if err != nil {
		return 0, err
	}
	return min(int(float64(domain.FairShare(messaging.Throughput(number), running))*span.Seconds()), c.Left()), nil
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
