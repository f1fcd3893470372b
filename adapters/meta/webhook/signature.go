package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignaturePrefix starts every X-Hub-Signature-256 header value.
const SignaturePrefix = "sha256="

// Sign returns the X-Hub-Signature-256 header value Meta sends with body:
// "sha256=" followed by the lowercase hex HMAC-SHA256 of body keyed with appSecret.
// Tests use it to sign the exact bytes they send (the Meta sandbox signs with its own
// code, so the two stay independent checks of each other).
func Sign(appSecret, body []byte) string {
	mac := hmac.New(sha256.New, appSecret)
	mac.Write(body)
	sum := mac.Sum(nil)
	buf := make([]byte, len(SignaturePrefix)+hex.EncodedLen(len(sum)))
	copy(buf, SignaturePrefix)
	hex.Encode(buf[len(SignaturePrefix):], sum)
	return string(buf)
}

// VerifySignature reports whether header (the X-Hub-Signature-256 value) is the HMAC-SHA256
// of rawBody keyed with appSecret. rawBody must be the exact bytes received: Meta signs its
// own serialization (non-ASCII escaped as \uXXXX), so re-encoded JSON never verifies.
//
// The MACs are compared in constant time. It returns false for an empty app secret (a
// misconfiguration must not accept everything signed with the empty key), a missing or
// different prefix, and anything after the prefix that is not 64 hex digits. Hex digits are
// accepted in either case; Meta sends lowercase.
func VerifySignature(appSecret []byte, rawBody []byte, header string) bool {
	if len(appSecret) == 0 {
		return false
	}
	hexSum, ok := strings.CutPrefix(header, SignaturePrefix)
	if !ok || len(hexSum) != hex.EncodedLen(sha256.Size) {
		return false
	}
	got := make([]byte, sha256.Size)
	if _, err := hex.Decode(got, []byte(hexSum)); err != nil {
		return false
	}
	mac := hmac.New(sha256.New, appSecret)
	mac.Write(rawBody)
	return hmac.Equal(mac.Sum(nil), got)
}
