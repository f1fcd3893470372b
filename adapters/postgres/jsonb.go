package postgres

import (
	"strings"
	"unicode/utf8"
)

// Postgres refuses some valid JSON and some Go strings: jsonb rejects the \u0000 escape and
// surrogates that do not pair, text rejects NUL and invalid UTF-8. Webhook payloads are
// signed by Meta but their contents are the customers': these helpers keep one odd
// character from failing (and forever retrying) a whole payload.

// jsonbSafe reports whether valid JSON has no \u escape jsonb rejects.
func jsonbSafe(b []byte) bool {
	_, ok := scanEscapes(b, nil)
	return ok
}

// sanitizeJSONB returns valid JSON with every escape jsonb rejects replaced by \ufffd.
func sanitizeJSONB(b []byte) []byte {
	if jsonbSafe(b) {
		return b
	}
	out, _ := scanEscapes(b, make([]byte, 0, len(b)))
	return out
}

// scanEscapes walks the \ escapes of valid JSON. With out == nil it only checks; otherwise
// it copies b into out with rejected escapes replaced by \ufffd.
func scanEscapes(b []byte, out []byte) ([]byte, bool) {
	ok := true
	copyTo := func(s []byte) {
		if out != nil {
			out = append(out, s...)
		}
	}
	last := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 < len(b) && b[i+1] != 'u' {
			i++ // an escaped character such as \\ or \"
			continue
		}
		cp, valid := hex4(b, i+2)
		size := 6
		bad := !valid || cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF)
		if valid && cp >= 0xD800 && cp <= 0xDBFF {
			lo, lv := hex4(b, i+8)
			if lv && i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' && lo >= 0xDC00 && lo <= 0xDFFF {
				size = 12
			} else {
				bad = true
			}
		}
		if bad {
			ok = false
			if out == nil {
				return nil, false
			}
			copyTo(b[last:i])
			copyTo([]byte(`\ufffd`))
			last = min(i+size, len(b))
		}
		i += size - 1
	}
	copyTo(b[last:])
	return out, ok
}

func hex4(b []byte, at int) (int, bool) {
	if at < 0 || at+4 > len(b) {
		return 0, false
	}
	n := 0
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// cleanText makes s storable in a text column: NUL and invalid UTF-8 become U+FFFD.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
