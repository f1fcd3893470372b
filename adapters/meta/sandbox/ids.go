package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"math/big"
	mrand "math/rand/v2"
	"strings"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randString returns n characters from alphabet, from crypto/rand (tokens and codes are
// credentials, even in a sandbox).
func randString(n int, alphabet string) string {
	max := big.NewInt(int64(len(alphabet)))
	var b strings.Builder
	b.Grow(n)
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}

// newAccessToken looks like a Meta business-integration system-user token.
func newAccessToken() string { return "EAAS" + randString(120, alnum) }

// newSignupCode looks like an Embedded Signup authorization code.
func newSignupCode() string { return "AQ" + randString(100, alnum+"-_") }

// numericID is a Graph object id: n digits, no leading zero.
func numericID(n int) string {
	var b strings.Builder
	b.WriteByte(byte('1' + mrand.IntN(9)))
	for range n - 1 {
		b.WriteByte(byte('0' + mrand.IntN(10)))
	}
	return b.String()
}

// newWAMID builds an id shaped like Meta's: "wamid." and base64 of a small binary record
// that embeds the counterpart's number and 18 random hex characters.
func newWAMID(waID string) string {
	var b []byte
	b = append(b, 0x1c, 0x18, byte(len(waID)))
	b = append(b, waID...)
	b = append(b, 0x15, 0x02, 0x00, 0x11, 0x18, 0x12)
	b = append(b, randString(18, "0123456789ABCDEF")...)
	b = append(b, 0x00)
	return "wamid." + base64.StdEncoding.EncodeToString(b)
}

// newTraceID looks like an fbtrace_id.
func newTraceID() string { return randString(11, alnum+"-_") }
