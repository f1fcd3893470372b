package domain

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// ID identifies every entity: a UUIDv7 (time-ordered, so new rows land at the end of
// B-tree indexes). Its underlying [16]byte is what pgx reads and writes for a uuid column
// directly (no text round trip), so it deliberately implements neither sql.Scanner nor
// driver.Valuer.
type ID [16]byte

// NilID is the zero ID.
var NilID ID

var (
	idMu     sync.Mutex
	idLastMS uint64
	idSeq    uint16 // 12 bits: orders ids made in the same millisecond
)

// NewID returns a fresh UUIDv7. Within one process ids are strictly increasing: ids made
// in the same millisecond carry a counter in rand_a (RFC 9562, method 1), so "newest
// first" by id is exact.
func NewID() ID {
	var id ID
	_, _ = rand.Read(id[:])
	idMu.Lock()
	ms := uint64(time.Now().UnixMilli())
	if ms <= idLastMS {
		ms = idLastMS
		idSeq++
		if idSeq > 0x0fff { // counter exhausted: borrow the next millisecond
			ms++
			idSeq = 0
		}
	} else {
		idSeq = uint16(id[6]&0x03)<<8 | uint16(id[7]) // random start, room to count up
	}
	idLastMS = ms
	seq := idSeq
	idMu.Unlock()
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(id[0:6], ts[2:8])
	id[6] = 0x70 | byte(seq>>8)&0x0f // version 7 + high bits of the counter
	id[7] = byte(seq)
	id[8] = 0x80 | (id[8] & 0x3f) // RFC 9562 variant
	return id
}

// ParseID reads the canonical 36-character form (any case).
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, fmt.Errorf("invalid id %q", s)
	}
	b := []byte(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36])
	if _, err := hex.Decode(id[:], b); err != nil {
		return NilID, fmt.Errorf("invalid id %q", s)
	}
	return id, nil
}

// IsZero reports whether id is the nil ID.
func (id ID) IsZero() bool { return id == NilID }

// StringOrEmpty is the canonical form, or "" for the nil ID (an actor or resource that is
// not known).
func (id ID) StringOrEmpty() string {
	if id.IsZero() {
		return ""
	}
	return id.String()
}

func (id ID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
	return string(b[:])
}

// MarshalText implements encoding.TextMarshaler (JSON strings).
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
