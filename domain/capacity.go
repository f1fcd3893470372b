package domain

import (
	"strconv"
	"strings"
	"time"
)

// MessagingWindow is the rolling window of Meta's messaging limit: a number may reach so
// many business-initiated unique contacts in any 24 hours.
const MessagingWindow = 24 * time.Hour

// QualityRed is the quality rating (PhoneNumber.QualityRating) at which campaigns stop:
// Meta may lower the number's messaging limit if it keeps sending.
const QualityRed = "RED"

// QualityLow reports whether a number's quality rating stops its campaigns.
func QualityLow(rating string) bool { return strings.EqualFold(strings.TrimSpace(rating), QualityRed) }

// MessagingLimit is how many business-initiated unique contacts a number may reach in
// MessagingWindow at its tier (PhoneNumber.MessagingLimitTier, Meta's TIER_250, TIER_1K,
// TIER_2K, TIER_10K, TIER_100K, or a count the webhooks gave as TIER_<n>). ok is false for
// no limit: TIER_UNLIMITED, and also TIER_NOT_SET, an empty or an unknown tier, so that a
// tier Meta names later never stops campaigns on a guess.
func MessagingLimit(tier string) (limit int, ok bool) {
	s, found := strings.CutPrefix(strings.ToUpper(strings.TrimSpace(tier)), "TIER_")
	if !found {
		return 0, false
	}
	mult := 1
	if k, isK := strings.CutSuffix(s, "K"); isK {
		s, mult = k, 1000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n * mult, true
}

// Capacity is what a number has left of its messaging limit: Used contacts reached in the
// window against Limit, when Limited.
type Capacity struct {
	Limited bool
	Limit   int
	Used    int
}

// CapacityOf is the capacity of a number at tier that reached used contacts in the window.
func CapacityOf(tier string, used int) Capacity {
	limit, ok := MessagingLimit(tier)
	return Capacity{Limited: ok, Limit: limit, Used: used}
}

// Left is how many more contacts the number may reach now (never negative); an unlimited
// number has no bound (the largest int).
func (c Capacity) Left() int {
	if !c.Limited {
		return int(^uint(0) >> 1)
	}
	return max(c.Limit-c.Used, 0)
}

// Check is nil when toSend more contacts fit in what is left, and a KindCapacityExceeded
// error saying how many fit otherwise.
func (c Capacity) Check(toSend int) error {
	left := c.Left()
	if toSend <= left {
		return nil
	}
	return Errorf(KindCapacityExceeded, "%d recipients would pass the number's messaging limit of %d contacts in 24 hours "+
		"(%d reached): %d fit now", toSend, c.Limit, c.Used, left)
}

// FairShare is one campaign's batch of a number's throughput (messages a second) when
// running campaigns send from it: an equal part, at least one, so campaigns of one number
// progress at the same pace and together keep to the number's.
func FairShare(throughput, running int) int {
	return max(throughput/max(running, 1), 1)
}
