package webhook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
)

// summary is what must survive a parse -> marshal -> parse round trip.
type summary struct {
	Object   string
	Entries  []string
	Fields   []string
	Messages []string
	Statuses []string
	Raws     []string
}

func summarize(env *webhook.Envelope) summary {
	s := summary{Object: env.Object}
	for i := range env.Entry {
		s.Entries = append(s.Entries, env.Entry[i].ID)
	}
	for _, c := range env.Changes() {
		s.Fields = append(s.Fields, c.Field+"|"+c.PhoneNumberID()+"|"+c.WABAID())
		if c.Value == nil {
			continue
		}
		for _, m := range c.Value.Messages {
			waID, bsuid := m.Identity()
			s.Messages = append(s.Messages, m.ID+"|"+m.Type+"|"+m.Timestamp+"|"+waID+"|"+bsuid)
			s.Raws = append(s.Raws, compact(m.Raw))
		}
		for _, st := range c.Value.Statuses {
			s.Statuses = append(s.Statuses, st.ID+"|"+st.Status)
			s.Raws = append(s.Raws, compact(st.Raw))
		}
	}
	return s
}

// compact normalizes raw JSON the way json.Marshal re-emits it (compact, HTML-escaped).
func compact(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "invalid:" + string(raw)
	}
	var esc bytes.Buffer
	json.HTMLEscape(&esc, b.Bytes())
	return esc.String()
}

func FuzzParse(f *testing.F) {
	for _, raw := range readFixtures(f) {
		f.Add(raw)
	}
	f.Add([]byte(`{"entry":[]}`))
	f.Add([]byte(`{"entry":[1,{"changes":[{"field":"messages","value":{"messages":[1,{"from":"+1"}]}}]}]}`))
	f.Add([]byte(`{"entry":[{"changes":[{"field":"message_template_status_update","value":{"message_template_id":"x"}}]}]}`))

	f.Fuzz(func(t *testing.T, raw []byte) {
		env, err := webhook.Parse(raw)
		if err != nil {
			if !errors.Is(err, webhook.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			if env != nil {
				t.Fatal("envelope returned with an error")
			}
			return
		}
		// Parsing is deterministic.
		env2, err := webhook.Parse(raw)
		if err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		first := summarize(env)
		if got := summarize(env2); !equalSummary(first, got) {
			t.Fatalf("parse is not deterministic:\n%+v\n%+v", first, got)
		}
		// A parsed envelope re-serializes and re-parses to the same content.
		out, err := json.Marshal(env)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := webhook.Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if got := summarize(again); !equalSummary(first, got) {
			t.Fatalf("round trip changed the envelope:\n%+v\n%+v\n%s", first, got, out)
		}
	})
}

func equalSummary(a, b summary) bool {
	return a.Object == b.Object && slices.Equal(a.Entries, b.Entries) && slices.Equal(a.Fields, b.Fields) &&
		slices.Equal(a.Messages, b.Messages) && slices.Equal(a.Statuses, b.Statuses) && slices.Equal(a.Raws, b.Raws)
}

func FuzzVerifySignature(f *testing.F) {
	for _, raw := range readFixtures(f) {
		secret := []byte("app-secret")
		f.Add(secret, raw, webhook.Sign(secret, raw))
		f.Add(secret, raw, "sha256=")
	}
	f.Add([]byte{}, []byte("{}"), "sha256=00")
	f.Add([]byte("k"), []byte(""), "sha1=abc")

	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		ok := webhook.VerifySignature(secret, body, header)
		want := webhook.Sign(secret, body)
		if len(secret) > 0 && !webhook.VerifySignature(secret, body, want) {
			t.Fatal("own signature rejected")
		}
		if ok && !strings.EqualFold(header[len("sha256="):], want[len("sha256="):]) {
			t.Fatalf("accepted %q, want %q", header, want)
		}
		if ok && len(secret) == 0 {
			t.Fatal("accepted with an empty secret")
		}
	})
}
