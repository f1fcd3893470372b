package campaigns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/application/phone"
	"github.com/wabaplatform/waba/domain"
)

// Pacing of the send job.
const (
	// BatchInterval is the pause between a campaign's batches: each batch is the number's
	// throughput of the time since the one before, so the messages are queued at about the
	// pace the send worker sends them (it paces each number too), and the job gives its
	// worker back between batches instead of holding it. Short: a batch's sends and their
	// status webhooks come in a burst that takes the CPUs for as long as it lasts, and a
	// quarter second's burst delays the API's requests less than a second's (the API's p99
	// during bench/campaign: 80 ms against 96 ms with one-second batches).
	BatchInterval = 250 * time.Millisecond
	// FirstBatchSpan is the time a campaign's first batch makes up for (no batch before
	// it): a second's worth, so the campaign starts at its pace.
	FirstBatchSpan = time.Second
	// MaxBatchSpan bounds how much time one batch makes up for (SendBatchAfter): a batch
	// takes the throughput of the time since the batch before, which is the pause plus the
	// batch's own time and the queue's pick-up (about two seconds for one), and never more
	// than this, after a long wait.
	MaxBatchSpan = 3 * time.Second
	// InFlightWait is how long the job waits, once every recipient has a message, for the
	// last ones to be sent, or for the retries to come due, before it looks again.
	InFlightWait = 2 * time.Second
	// BlockedWait is how long the job waits when the campaign cannot send for a reason
	// that is not its own (the number disconnected, the template no longer approved);
	// the stop rules will pause such a campaign visibly.
	BlockedWait = time.Minute
	// SendPriority is the River priority of a campaign's send jobs: the last one, below
	// every send of the API (messaging's priority), so an agent's reply is fetched before
	// a campaign's backlog.
	SendPriority = 4
	// QuotaLeftToAPI is the share (percent) of the plan's per-minute quota a campaign
	// leaves to the API's sends, so a campaign never takes the whole minute from them.
	QuotaLeftToAPI = 10
)

// Step is what a run of the send job came to.
type Step struct {
	Done            bool          // nothing more to do: the campaign completed or does not run
	Wait            time.Duration // else run again after Wait
	Queued, Skipped int
	Reason          string // why it waits, for the logs
}

// SendBatch queues the next batch of a running campaign (the send job's use case). In one
// transaction, under the campaign's lock, it takes up to its share of one second of the
// number's throughput (shared by the number's running campaigns) of recipients whose retry
// is due or pending without a message, within what is left of the number's messaging
// limit, decides for each (skipped with a reason, or a message with the contact's
// parameters bound), takes the messages from the plan's quota, queues them (rows, events
// and send jobs) and gives each recipient its message. When no recipient is left to take
// and none is in flight or waiting for a retry, the campaign completes. A number rated RED
// pauses the campaign (quality_low); a reached limit pauses it (capacity), or makes a
// split campaign wait.
func (s *Service) SendBatch(ctx context.Context, ws, id domain.ID) (Step, error) {
	return s.SendBatchAfter(ctx, ws, id, 0)
}

// SendBatchAfter is SendBatch for a job whose previous batch was taken sinceLast ago (0:
// none known, FirstBatchSpan): this batch takes the throughput of that time, between
// BatchInterval's and MaxBatchSpan's. An interval's worth after each pause would fall
// behind the number's pace by the batch's own time and the job's pick-up.
func (s *Service) SendBatchAfter(ctx context.Context, ws, id domain.ID, sinceLast time.Duration) (Step, error) {
	cur, err := s.d.Store.Get(ctx, ws, id)
	if domain.IsKind(err, domain.KindNotFound) {
		return Step{Done: true, Reason: "campaign gone"}, nil
	}
	if err != nil {
		return Step{}, err
	}
	if cur.Status != domain.CampaignRunning {
		return Step{Done: true, Reason: "campaign " + string(cur.Status)}, nil
	}
	number, tmpl, err := s.sendable(ctx, cur)
	if err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			return Step{Wait: BlockedWait, Reason: de.Message}, nil
		}
		return Step{}, err
	}
	w, err := s.d.Workspaces.Workspace(ctx, ws)
	if err != nil {
		return Step{}, err
	}
	perMinute := w.Plan.MessagesPerMinute()
	marketing := domain.IsMarketing(tmpl.Category)

	var step Step
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		step = Step{}
		cp, err := r.Campaigns.Lock(ctx, ws, id)
		if err != nil {
			return err
		}
		if cp.Status != domain.CampaignRunning {
			step = Step{Done: true, Reason: "campaign " + string(cp.Status)}
			return nil
		}
		now := s.now().UTC()
		if domain.QualityLow(number.QualityRating) {
			step.Done, step.Reason = true, "paused: the number's quality is RED"
			return pause(ctx, r, cp, domain.PauseQualityLow, now)
		}
		span := FirstBatchSpan
		if sinceLast > 0 {
			span = min(max(sinceLast, BatchInterval), MaxBatchSpan)
		}
		size, err := batchSize(ctx, r, cp, number, perMinute, span, now)
		if err != nil {
			return err
		}
		var since *time.Time
		if marketing {
			t := now.Add(-7 * 24 * time.Hour) // the longest cap's window
			since = &t
		}
		// With the limit reached, one candidate tells a campaign that waits from one that is done.
		batch, err := r.Batches.Next(ctx, ws, id, max(size, 1), now, since)
		if err != nil {
			return err
		}
		if len(batch.Candidates) == 0 {
			return s.complete(ctx, r, cp, now, &step)
		}
		if size == 0 {
			return s.limitReached(ctx, r, cp, now, &step)
		}
		var sends []send
		var skipped []Skipped
		for _, cand := range batch.Candidates {
			reason, bound, err := decide(cp, cand, marketing, batch.Caps, now)
			if err != nil {
				return err
			}
			if reason != "" {
				skipped = append(skipped, Skipped{ContactID: cand.ContactID, Reason: reason})
				continue
			}
			sends = append(sends, send{contactID: cand.ContactID, content: content(cp.Template, bound), market: phone.Market(cand.Contact.Phone)})
		}
		if len(sends) > 0 {
			granted, reset, err := s.d.Quota.TakeUpTo(ctx, messaging.QuotaKey(ws), perMinute, perMinute*QuotaLeftToAPI/100, len(sends))
			if err != nil {
				return fmt.Errorf("quota: %w", err)
			}
			if granted < len(sends) {
				// The rest stay pending for a later batch; with none granted the job waits
				// for the window to end.
				sends = sends[:granted]
				if granted == 0 {
					step.Wait, step.Reason = max(reset.Sub(now), time.Second), "plan quota spent"
				}
			}
		}
		queued, err := queue(ctx, r, cp, number, tmpl, sends, now)
		if err != nil {
			return err
		}
		if err := r.Batches.Record(ctx, ws, id, queued, skipped, now); err != nil {
			return err
		}
		step.Queued, step.Skipped = len(queued), len(skipped)
		if step.Wait == 0 {
			step.Wait = BatchInterval
		}
		return nil
	})
	if domain.IsKind(err, domain.KindInsufficientBalance) {
		// The batch was rolled back whole; the campaign waits, paused, for credit.
		err = s.stop(ctx, Ref{WorkspaceID: ws, ID: id}, domain.PauseInsufficientBalance, s.now().UTC())
		return Step{Done: true, Reason: "insufficient balance"}, err
	}
	return step, err
}

// Behind is how much of the time since a job's previous batch its next batch makes up for
// (SendBatchAfter's sinceLast): all of it but what the previous step chose to wait past
// BatchInterval (the plan's window to reset, the messages in flight, a blocked number).
// Those waits are the campaign's pace, not a delay to catch up: a batch that made up for
// the wait of a spent quota would take MaxBatchSpan's worth at once when the window
// resets, a burst of sends and status webhooks that takes the CPUs from the API's requests
// every minute. 0 (no batch before) stays 0.
func Behind(sinceLast, waited time.Duration) time.Duration {
	if sinceLast <= 0 {
		return 0
	}
	return max(sinceLast-max(waited-BatchInterval, 0), BatchInterval)
}

// send is a message a batch decided to queue.
type send struct {
	contactID domain.ID
	content   []byte
	market    string // the contact's market, which its held price is estimated for
}

// decide is a candidate's fate: a skip reason, or the template's components bound to its
// contact. The checks are the send API's, in its order: the contact's opt-outs, then for a
// MARKETING template the frequency caps; then the parameters.
func decide(cp domain.Campaign, cand Candidate, marketing bool, caps domain.MessagingSettings, now time.Time) (reason string, bound []byte, err error) {
	ct := cand.Contact
	if ct == nil {
		return domain.SkipContactDeleted, nil, nil
	}
	switch ct.Suppression().Refuses(domain.PurposeConversation, marketing) {
	case domain.RefusedOptedOut:
		return domain.SkipOptedOut, nil, nil
	case domain.RefusedMarketingOptedOut:
		return domain.SkipMarketingOptedOut, nil, nil
	}
	if ct.WaID == "" && ct.BSUID == "" {
		return domain.SkipNoAddress, nil, nil
	}
	if marketing && domain.FrequencyCap(cand.Marketing, caps, now) != nil {
		return domain.SkipFrequencyCapped, nil, nil
	}
	bound, missing, err := domain.BindContact(cp.Template.Components, *ct)
	if err != nil {
		return "", nil, fmt.Errorf("campaign %s: bind parameters: %w", cp.ID, err)
	}
	if missing != "" {
		return domain.SkipMissingField + missing, nil, nil
	}
	return "", bound, nil
}

// queue stores the messages of sends (rows, conversations, events) and their send jobs.
func queue(ctx context.Context, r Repos, cp domain.Campaign, number domain.PhoneNumber, tmpl domain.Template, sends []send, now time.Time) ([]Queued, error) {
	if len(sends) == 0 {
		return nil, nil
	}
	ms := make([]domain.Message, len(sends))
	evs := make([]domain.Occurrence, len(sends))
	ids := make([]domain.ID, len(sends))
	queued := make([]Queued, len(sends))
	actor := domain.SystemIn(cp.WorkspaceID)
	campaignID := cp.ID
	for i, sd := range sends {
		m := domain.Message{ID: domain.NewID(), WorkspaceID: cp.WorkspaceID, ContactID: sd.contactID, PhoneNumberID: number.PhoneNumberID,
			Direction: domain.Outbound, Type: messaging.TypeTemplate, Content: sd.content, Status: domain.StatusQueued,
			Purpose: domain.PurposeConversation, Category: tmpl.Category, CampaignID: &campaignID, CreatedAt: now}
		ms[i], ids[i] = m, m.ID
		evs[i] = domain.Occurred(actor, now, domain.MessageQueued{MessageID: m.ID, ContactID: m.ContactID, Type: m.Type,
			PhoneNumberID: m.PhoneNumberID})
		queued[i] = Queued{ContactID: sd.contactID, MessageID: m.ID}
	}
	if err := r.Outbox.QueueAll(ctx, ms, evs); err != nil {
		return nil, err
	}
	if err := r.Jobs.EnqueueSends(ctx, cp.WorkspaceID, ids, SendPriority); err != nil {
		return nil, err
	}
	if r.Wallet == nil {
		return queued, nil
	}
	// A prepaid wallet holds the batch's price, all or none (last: its lock is held to the
	// commit); when it cannot, nothing of the batch is queued and the campaign pauses.
	holds := make([]domain.Hold, len(sends))
	for i, sd := range sends {
		holds[i] = domain.Hold{MessageID: ids[i], Market: sd.market, Category: domain.PricingCategory(tmpl.Category)}
	}
	return queued, r.Wallet.Reserve(ctx, cp.WorkspaceID, holds, now)
}

// complete ends a running campaign none of whose recipients is left to take, once none is
// in flight or waiting for a retry either (domain.CampaignStats.Done); until then the job
// looks again shortly, also while a retry is a day away: the clock may move (a test's), and
// a short look is cheap.
func (s *Service) complete(ctx context.Context, r Repos, cp domain.Campaign, now time.Time, step *Step) error {
	counts, err := r.Batches.Counts(ctx, cp.WorkspaceID, cp.ID)
	if err != nil {
		return err
	}
	stats := domain.StatsOf(counts)
	if !stats.Done() {
		step.Wait, step.Reason = InFlightWait, "messages in flight or retries waiting"
		return nil
	}
	cp.Status, cp.CompletedAt, cp.UpdatedAt = domain.CampaignCompleted, &now, now
	if err := r.Campaigns.Update(ctx, cp); err != nil {
		return err
	}
	step.Done, step.Reason = true, "completed"
	return r.Events.Append(ctx, domain.Occurred(domain.SystemIn(cp.WorkspaceID), now, domain.CampaignMoved{
		CampaignID: cp.ID, Action: domain.CampaignComplete, Status: cp.Status, Stats: stats}))
}

// tickBatch bounds how many campaigns one tick looks at of each kind.
const tickBatch = 500

// Tick is the leader's periodic look after campaigns: it starts the scheduled campaigns
// whose time has come (each in its own transaction, as the system) and makes sure every
// running campaign has its send job (a job lost to a race with a resume, or discarded
// after repeated failures, is queued again; one already there is kept). It returns how
// many campaigns it started.
func (s *Service) Tick(ctx context.Context) (int, error) {
	due, err := s.d.Store.Due(ctx, s.now().UTC(), tickBatch)
	if err != nil {
		return 0, err
	}
	started := 0
	var errs []error
	for _, ref := range due {
		ok, err := s.startDue(ctx, ref)
		if err != nil {
			errs = append(errs, fmt.Errorf("start campaign %s: %w", ref.ID, err))
		}
		if ok {
			started++
		}
	}
	running, err := s.d.Store.Running(ctx, tickBatch)
	if err != nil {
		return started, errors.Join(append(errs, err)...)
	}
	if len(running) > 0 {
		err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
			for _, ref := range running {
				if err := r.Jobs.EnqueueCampaignSend(ctx, ref.WorkspaceID, ref.ID); err != nil {
					return err
				}
			}
			return nil
		})
		errs = append(errs, err)
	}
	return started, errors.Join(errs...)
}

// startDue starts a scheduled campaign whose time has come. One whose template can no
// longer be sent pauses (template_paused), and so does one without split whose audience
// does not fit in the number's messaging limit (capacity); one whose number is not
// connected stays scheduled and is tried again at the next tick.
func (s *Service) startDue(ctx context.Context, ref Ref) (bool, error) {
	cur, err := s.d.Store.Get(ctx, ref.WorkspaceID, ref.ID)
	if err != nil {
		return false, err
	}
	checked := s.now().UTC()
	number, tmpl, unsendable := s.sendable(ctx, cur)
	if domain.IsKind(unsendable, domain.KindNotConnected) {
		return false, nil
	}
	var de *domain.Error
	if unsendable != nil && !errors.As(unsendable, &de) {
		return false, unsendable
	}
	started := false
	system := domain.SystemIn(ref.WorkspaceID)
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		cp, err := r.Campaigns.Lock(ctx, ref.WorkspaceID, ref.ID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if cp.Status != domain.CampaignScheduled || cp.ScheduledAt == nil || cp.ScheduledAt.After(now) {
			return nil // moved, or rescheduled, since it was found
		}
		if unsendable != nil {
			return pause(ctx, r, cp, domain.PauseTemplatePaused, now)
		}
		_, err = s.start(ctx, r, system, cp, number, tmpl, domain.CampaignLaunch, now)
		started = err == nil
		return err
	})
	if domain.IsKind(err, domain.KindCapacityExceeded) {
		// Launched without split, its audience does not fit in the number's messaging limit:
		// it waits for a person (its audience is taken when it is resumed).
		return false, s.stop(ctx, ref, domain.PauseCapacity, checked)
	}
	if domain.IsKind(err, domain.KindInsufficientBalance) {
		// A prepaid wallet cannot cover it: it waits, paused, for credit.
		return false, s.stop(ctx, ref, domain.PauseInsufficientBalance, checked)
	}
	return started, err
}
