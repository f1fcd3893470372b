package optout_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain/optout"
	"github.com/wabaplatform/waba/domain/webhook"
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

	text := func(body string) *webhook.Message {
		return &webhook.Message{Type: webhook.TypeText, Text: &webhook.Text{Body: body}}
	}
	button := func(payload, label string) *webhook.Message {
		return &webhook.Message{Type: webhook.TypeButton, Button: &webhook.Button{Payload: payload, Text: label}}
	}
	buttonReply := func(id, title string) *webhook.Message {
		return &webhook.Message{Type: webhook.TypeInteractive, Interactive: &webhook.Interactive{
			Type: webhook.InteractiveButtonReply, ButtonReply: &webhook.ButtonReply{ID: id, Title: title}}}
	}
	listReply := func(id, title string) *webhook.Message {
		return &webhook.Message{Type: webhook.TypeInteractive, Interactive: &webhook.Interactive{
			Type: webhook.InteractiveListReply, ListReply: &webhook.ListReply{ID: id, Title: title, Description: "STOP"}}}
	}

	tests := []struct {
		name   string
		msg    *webhook.Message
		extras []string
		want   optout.Action
	}{
		{name: "text STOP", msg: text("STOP"), want: optout.OptOut},
		{name: "text START", msg: text("Start"), want: optout.OptIn},
		{name: "text sentence", msg: text("don't stop"), want: optout.None},
		{name: "quick reply payload not a keyword", msg: button("STOP_PROMOTIONS", "Stop promotions"), want: optout.None},
		{name: "quick reply payload in extras", msg: button("STOP_PROMOTIONS", "Stop promotions"), extras: []string{"STOP_PROMOTIONS"}, want: optout.OptOut},
		{name: "quick reply label Stop", msg: button("promo_feedback_2", "Stop"), want: optout.OptOut},
		{name: "quick reply payload STOP", msg: button("STOP", "No more offers"), want: optout.OptOut},
		{name: "quick reply resubscribe", msg: button("resubscribe", "Start"), want: optout.OptIn},
		{name: "interactive title", msg: buttonReply("btn_1", "Unsubscribe"), want: optout.OptOut},
		{name: "interactive id", msg: buttonReply("stop", "No thanks"), want: optout.OptOut},
		{name: "interactive other", msg: buttonReply("confirm_yes", "Yes"), want: optout.None},
		{name: "list title", msg: listReply("row_9", "quit"), want: optout.OptOut},
		{name: "list description ignored", msg: listReply("row_1", "Mornings"), want: optout.None},
		{name: "opt-out wins over opt-in", msg: button("STOP", "Start"), want: optout.OptOut},
		{name: "media caption ignored", msg: &webhook.Message{Type: webhook.TypeImage, Image: &webhook.Media{ID: "1", Caption: "STOP"}}, want: optout.None},
		{name: "reaction ignored", msg: &webhook.Message{Type: webhook.TypeReaction, Reaction: &webhook.Reaction{Emoji: "STOP"}}, want: optout.None},
		{name: "request_welcome", msg: &webhook.Message{Type: webhook.TypeRequestWelcome}, want: optout.None},
		{name: "nil message", msg: nil, want: optout.None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, optout.DecideMessage(tt.msg, tt.extras))
		})
	}
}

func TestCandidates(t *testing.T) {
	t.Parallel()

	m := &webhook.Message{
		Text:   &webhook.Text{Body: "a"},
		Button: &webhook.Button{Text: "b", Payload: "c"},
		Interactive: &webhook.Interactive{
			ButtonReply: &webhook.ButtonReply{Title: "d", ID: "e"},
			ListReply:   &webhook.ListReply{Title: "f", ID: ""},
		},
	}
	require.Equal(t, []string{"a", "b", "c", "d", "e", "f"}, optout.Candidates(m))
	require.Empty(t, optout.Candidates(&webhook.Message{Type: webhook.TypeText}))
	require.Nil(t, optout.Candidates(nil))
}

// The fixture corpus, parsed for real: the keyword fixtures decide as the policy says.
func TestFixtureMessages(t *testing.T) {
	t.Parallel()

	tests := []struct {
		file   string
		extras []string
		want   optout.Action
	}{
		{file: "text_stop.json", want: optout.OptOut},
		{file: "text.json", want: optout.None},
		{file: "button_quick_reply.json", want: optout.None},
		{file: "button_quick_reply.json", extras: []string{"STOP_PROMOTIONS"}, want: optout.OptOut},
		{file: "interactive_button_reply.json", want: optout.None},
		{file: "interactive_list_reply.json", want: optout.None},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join("../../test/testdata/webhooks", tt.file))
			require.NoError(t, err)
			env, err := webhook.Parse(raw)
			require.NoError(t, err)
			msgs := env.Entry[0].Changes[0].Value.Messages
			require.Len(t, msgs, 1)
			require.Equal(t, tt.want, optout.DecideMessage(&msgs[0], tt.extras))
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
