package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Meta's legacy X-Hub-Signature header is SHA-1; we send it like Meta does.
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// Marshal encodes v the way Meta serializes Graph answers and webhook payloads (PHP's
// json_encode defaults): every non-ASCII character is escaped as \uXXXX with lowercase hex
// (characters outside the BMP as a UTF-16 surrogate pair), "/" is escaped as "\/", and
// "<", ">", "&" are left alone. A receiver that re-serializes the parsed JSON therefore gets
// different bytes than Meta signed, which is exactly the bug this exposes.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return escapeMeta(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// escapeMeta rewrites compact JSON from encoding/json. Non-ASCII bytes and "/" only ever
// occur inside string literals there, and never as part of an escape sequence, so a plain
// byte scan is exact.
func escapeMeta(in []byte) []byte {
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, len(in)+len(in)/8)
	writeU := func(r rune) {
		out = append(out, '\\', 'u',
			hexdigits[(r>>12)&0xf], hexdigits[(r>>8)&0xf], hexdigits[(r>>4)&0xf], hexdigits[r&0xf])
	}
	for i := 0; i < len(in); {
		c := in[i]
		if c == '/' {
			out = append(out, '\\', '/')
			i++
			continue
		}
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(in[i:])
		i += size
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			writeU(r1)
			writeU(r2)
			continue
		}
		writeU(r) // encoding/json already replaced invalid UTF-8 with U+FFFD
	}
	return out
}

// Sign is the value of X-Hub-Signature-256 for body: "sha256=" and the lowercase hex
// HMAC-SHA256 of the raw bytes keyed with the app secret.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// signSHA1 is the legacy X-Hub-Signature value Meta still sends alongside.
func signSHA1(appSecret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(appSecret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

// object is a JSON object that keeps its keys in insertion order (Meta's field order).
type object []field

type field struct {
	key   string
	value any
}

func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := marshalPlain(f.key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := marshalPlain(f.value)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshalPlain is json.Marshal without HTML escaping (Marshal does the Meta escaping once,
// over the whole document).
func marshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
