package domain

import "time"

// Clock tells the time the rules read (token expiries, windows, caps). Production passes
// time.Now; tests pass a clock they move instead of sleeping.
type Clock func() time.Time
