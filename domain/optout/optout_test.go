package optout_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/optout"
)

func TestDecide(t *testing.T) {
	t.Parallel()

	extras := []string{"stop_promotions", " Baja ", ""}
	tests := []struct {
		text   string
		extras []string
		want   optout.Action
	}{
		{text: "STOP", want: optout.OptOut},
		{text: "stop", want: optout.OptOut},
		{text: " Stop ", want: optout.OptOut},
		{text: "\tstop\n", want: optout.OptOut},
		{text: "\u00a0STOP\u00a0", want: optout.OptOut}, // no-break spaces count as white space
		{text: "STOPALL", want: optout.OptOut},
		{text: "stopall", want: optout.OptOut},
		{text: "Unsubscribe", want: optout.OptOut},
		{text: "cancel", want: optout.OptOut},
		{text: "END", want: optout.OptOut},
		{text: "quit", want: optout.OptOut},
		{text: "START", want: optout.OptIn},
		{text: " start ", want: optout.OptIn},
		{text: "UNSTOP", want: optout.OptIn},
		{text: "unstop", want: optout.OptIn},

		// Exact match only: keywords inside sentences, with punctuation or spacing do nothing.
		{text: "don't stop", want: optout.None},
		{text: "stop please", want: optout.None},
		{text: "please stop", want: optout.None},
		{text: "STOP!", want: optout.None},
		{text: "stop.", want: optout.None},
		{text: "S T O P", want: optout.None},
		{text: "STOP ALL", want: optout.None},
		{text: "stopped", want: optout.None},
		{text: "start now", want: optout.None},
		{text: "", want: optout.None},
		{text: "   ", want: optout.None},
		{text: "Hola", want: optout.None},

		// Workspace extras are matched the same way; blank extras never match.
		{text: "STOP_PROMOTIONS", want: optout.None},
		{text: "STOP_PROMOTIONS", extras: extras, want: optout.OptOut},
		{text: "baja", extras: extras, want: optout.OptOut},
		{text: "  BAJA ", extras: extras, want: optout.OptOut},
		{text: "baja ya", extras: extras, want: optout.None},
		{text: "STOP", extras: extras, want: optout.OptOut},
		{text: "START", extras: extras, want: optout.OptIn},
		// An extra that is also an opt-in keyword opts out.
		{text: "start", extras: []string{"START"}, want: optout.OptOut},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, optout.Decide(tt.text, tt.extras), "%q extras=%q", tt.text, tt.extras)
		})
	}
}

func TestDecideMessage(t *testing.T) {
	t.Parallel()

	// Replies as the edge reads them: a text's body; a quick reply's label, then payload;
	// an interactive reply's title, then id.
	msg := func(replies ...string) *domain.InboundMessage { return &domain.InboundMessage{Replies: replies} }

	tests := []struct {
		name   string
		msg    *domain.InboundMessage
		extras []string
		want   optout.Action
	}{
		{name: "text STOP", msg: msg("STOP"), want: optout.OptOut},
		{name: "text START", msg: msg("Start"), want: optout.OptIn},
		{name: "text sentence", msg: msg("don't stop"), want: optout.None},
		{name: "quick reply payload not a keyword", msg: msg("Stop promotions", "STOP_PROMOTIONS"), want: optout.None},
		{name: "quick reply payload in extras", msg: msg("Stop promotions", "STOP_PROMOTIONS"), extras: []string{"STOP_PROMOTIONS"}, want: optout.OptOut},
		{name: "quick reply label Stop", msg: msg("Stop", "promo_feedback_2"), want: optout.OptOut},
		{name: "quick reply payload STOP", msg: msg("No more offers", "STOP"), want: optout.OptOut},
		{name: "quick reply resubscribe", msg: msg("Start", "resubscribe"), want: optout.OptIn},
		{name: "interactive title", msg: msg("Unsubscribe", "btn_1"), want: optout.OptOut},
		{name: "interactive id", msg: msg("No thanks", "stop"), want: optout.OptOut},
		{name: "interactive other", msg: msg("Yes", "confirm_yes"), want: optout.None},
		{name: "opt-out wins over opt-in", msg: msg("Start", "STOP"), want: optout.OptOut},
		{name: "no replies (media, reaction, ...)", msg: msg(), want: optout.None},
		{name: "nil message", msg: nil, want: optout.None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, optout.DecideMessage(tt.msg, tt.extras))
		})
	}
}

func TestActionString(t *testing.T) {
	t.Parallel()

	require.Equal(t, "none", optout.None.String())
	require.Equal(t, "opt_out", optout.OptOut.String())
	require.Equal(t, "opt_in", optout.OptIn.String())
}

func TestDefaultKeywordsAreCopies(t *testing.T) {
	t.Parallel()

	kw := optout.DefaultOptOutKeywords()
	require.Equal(t, []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}, kw)
	kw[0] = "GO"
	require.Equal(t, optout.OptOut, optout.Decide("stop", nil))
	require.Equal(t, []string{"START", "UNSTOP"}, optout.DefaultOptInKeywords())
}

func BenchmarkDecide(b *testing.B) {
	extras := []string{"STOP_PROMOTIONS", "baja", "arrêter"}
	texts := []string{"Hi, is the store open today?", " stop ", "START", "stop please", "STOP_PROMOTIONS", "¿Tienen envío a Monterrey?"}
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range texts {
			_ = optout.Decide(s, extras)
		}
	}
}

// Decide must agree with its documented definition, Normalize(text) == Normalize(keyword).
func FuzzDecideMatchesNormalize(f *testing.F) {
	for _, s := range []string{"stop", " Stop ", "ſtop", "quıt", "STOP!", "\xffSTOP", "baja", "arrêter", "ARRÊTER"} {
		f.Add(s, "arrêter")
	}
	f.Fuzz(func(t *testing.T, text, extra string) {
		want := optout.None
		norm := optout.Normalize(text)
		switch {
		case norm == "":
		case contains(optout.DefaultOptOutKeywords(), norm) || (optout.Normalize(extra) != "" && norm == optout.Normalize(extra)):
			want = optout.OptOut
		case contains(optout.DefaultOptInKeywords(), norm):
			want = optout.OptIn
		}
		if got := optout.Decide(text, []string{extra}); got != want {
			t.Fatalf("Decide(%q, %q) = %v, want %v", text, extra, got, want)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
