package domain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Weekdays are the day keys of working hours, Monday first, as the API spells them.
var Weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// weekdayKey maps time.Weekday (Sunday = 0) to its key.
var weekdayKey = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Limits of working hours.
const (
	MaxIntervalsPerDay = 12
	MaxHolidays        = 366
)

// Interval is one span of opening on a day, in the workspace's zone: From inclusive, To
// exclusive, both "HH:MM" (To may be "24:00", the end of the day).
type Interval struct {
	From string
	To   string
}

// WorkingHours is a workspace's calendar: when it is open, in an IANA zone. A day left out
// of Days is closed; a holiday (a date in the zone) is closed all day. The zero value has
// no calendar: it is never "outside working hours" (Configured is false).
type WorkingHours struct {
	Timezone string
	Days     map[string][]Interval // by Weekdays key; sorted by From
	Holidays []string              // "YYYY-MM-DD", sorted, unique
	loc      *time.Location
	mins     map[string][][2]int // Days in minutes of the day
	holidays map[string]bool
}

// Configured reports whether the workspace set its hours.
func (w WorkingHours) Configured() bool { return w.loc != nil }

// clockMinutes reads "HH:MM" (00:00 to 24:00) as minutes of the day.
func clockMinutes(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// ParseWorkingHours validates a calendar: an IANA timezone, for each day (mon..sun) up to
// MaxIntervalsPerDay intervals "HH:MM" with from before to that do not overlap, and
// holidays as dates. Every problem is reported with its field ("days.mon[1].from").
func ParseWorkingHours(timezone string, days map[string][]Interval, holidays []string) (WorkingHours, error) {
	var v Validator
	w := WorkingHours{Timezone: strings.TrimSpace(timezone), Days: map[string][]Interval{}, mins: map[string][][2]int{},
		holidays: map[string]bool{}, Holidays: []string{}}
	switch {
	case w.Timezone == "":
		v.Add("timezone", "is required: an IANA zone such as Europe/Madrid")
	case strings.EqualFold(w.Timezone, "local"):
		v.Add("timezone", "must be an IANA zone such as Europe/Madrid, not Local")
	default:
		loc, err := time.LoadLocation(w.Timezone)
		if err != nil {
			v.Add("timezone", "is not a known IANA zone (such as Europe/Madrid)")
		} else {
			w.loc = loc
		}
	}
	for day := range days {
		if !slices.Contains(Weekdays, day) {
			v.Add("days."+day, "is not a day: use mon, tue, wed, thu, fri, sat or sun")
		}
	}
	for _, day := range Weekdays {
		list, ok := days[day]
		if !ok || len(list) == 0 {
			continue
		}
		field := "days." + day
		if len(list) > MaxIntervalsPerDay {
			v.Add(field, fmt.Sprintf("has more than %d intervals", MaxIntervalsPerDay))
			continue
		}
		spans := make([][2]int, 0, len(list))
		good := true
		for i, iv := range list {
			f := fmt.Sprintf("%s[%d]", field, i)
			from, okF := clockMinutes(iv.From)
			to, okT := clockMinutes(iv.To)
			if !okF || from == 24*60 {
				v.Add(f+".from", `must be a time "HH:MM" from 00:00 to 23:59`)
				good = false
			}
			if !okT {
				v.Add(f+".to", `must be a time "HH:MM" from 00:01 to 24:00`)
				good = false
			}
			if okF && okT && from >= to {
				v.Add(f, "from must be before to")
				good = false
			}
			spans = append(spans, [2]int{from, to})
		}
		if !good {
			continue
		}
		order := make([]int, len(list))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return spans[a][0] - spans[b][0] })
		sorted := make([]Interval, len(list))
		sortedMins := make([][2]int, len(list))
		for k, i := range order {
			sorted[k], sortedMins[k] = list[i], spans[i]
			if k > 0 && sortedMins[k][0] < sortedMins[k-1][1] {
				v.Add(fmt.Sprintf("%s[%d]", field, i), "overlaps another interval of the day")
			}
		}
		w.Days[day], w.mins[day] = sorted, sortedMins
	}
	if len(holidays) > MaxHolidays {
		v.Add("holidays", fmt.Sprintf("has more than %d dates", MaxHolidays))
	} else {
		for i, h := range holidays {
			h = strings.TrimSpace(h)
			if _, err := time.Parse(time.DateOnly, h); err != nil {
				v.Add(fmt.Sprintf("holidays[%d]", i), `must be a date "YYYY-MM-DD"`)
				continue
			}
			if !w.holidays[h] {
				w.holidays[h] = true
				w.Holidays = append(w.Holidays, h)
			}
		}
		slices.Sort(w.Holidays)
	}
	if err := v.Err(); err != nil {
		return WorkingHours{}, err
	}
	return w, nil
}

// Open reports whether at falls inside the working hours, read on the calendar's wall
// clock (so a daylight-saving change moves nothing: 09:00 is 09:00 local on both sides).
// Without a calendar the workspace is always open.
func (w WorkingHours) Open(at time.Time) bool {
	if w.loc == nil {
		return true
	}
	t := at.In(w.loc)
	if w.holidays[t.Format(time.DateOnly)] {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	for _, s := range w.mins[weekdayKey[t.Weekday()]] {
		if m >= s[0] && m < s[1] {
			return true
		}
	}
	return false
}
