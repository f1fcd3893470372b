// Package phone normalizes phone numbers to E.164.
package phone

import (
	"errors"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is returned for input that is not a valid phone number.
var ErrInvalid = errors.New("not a valid phone number with its country code")

// Normalize turns the usual human formats ("+1 (415) 555-0100", "1-415-555-0100",
// "14155550100") into E.164 ("+14155550100"). Digits without a leading + are read as an
// international number (the form WhatsApp ids take); national formats without a country
// code are ambiguous and rejected.
func Normalize(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > 40 {
		return "", ErrInvalid
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if !strings.HasPrefix(s, "+") {
		s = "+" + s
	}
	n, err := phonenumbers.Parse(s, "ZZ")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", ErrInvalid
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// WaID is the form Meta uses for a number: E.164 without the +.
func WaID(e164 string) string { return strings.TrimPrefix(e164, "+") }

// Market is the ISO 3166 alpha-2 region of a number ("US", "IN", "GB"), what a rate card
// prices by: from its country calling code and, where several regions share one (+1, +7,
// +44), its leading digits. "" when the number is not a valid international number.
func Market(number string) string {
	s := strings.TrimSpace(number)
	if !strings.HasPrefix(s, "+") {
		s = "+" + s
	}
	n, err := phonenumbers.Parse(s, "ZZ")
	if err != nil {
		return ""
	}
	r := phonenumbers.GetRegionCodeForNumber(n)
	if len(r) != 2 || r == "ZZ" {
		return ""
	}
	return r
}
