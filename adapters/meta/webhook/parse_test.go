package webhook_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
)

// messagesBody wraps a messages-family value in an envelope.
func messagesBody(value string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":` + value + `}]}]}`)
}

func mustParse(t *testing.T, raw []byte) *webhook.Envelope {
	t.Helper()
	env, err := webhook.Parse(raw)
	require.NoError(t, err)
	return env
}

func onlyChange(t *testing.T, env *webhook.Envelope) *webhook.Change {
	t.Helper()
	require.Len(t, env.Entry, 1)
	require.Len(t, env.Entry[0].Changes, 1)
	return &env.Entry[0].Changes[0]
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"empty":              ``,
		"whitespace":         " \n",
		"null":               `null`,
		"array":              `[{"entry":[]}]`,
		"string":             `"entry"`,
		"number":             `42`,
		"truncated":          `{"object":"whatsapp_business_account","entry":[`,
		"trailing data":      `{"entry":[]} {}`,
		"no entry":           `{"object":"whatsapp_business_account"}`,
		"entry null":         `{"object":"whatsapp_business_account","entry":null}`,
		"entry object":       `{"object":"whatsapp_business_account","entry":{"id":"1"}}`,
		"entry string":       `{"object":"whatsapp_business_account","entry":"[]"}`,
		"invalid JSON later": `{"entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{,}]}}]}]}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, err := webhook.Parse([]byte(body))
			require.ErrorIs(t, err, webhook.ErrMalformed)
			require.Nil(t, env)
		})
	}
}

func TestParseLenient(t *testing.T) {
	t.Parallel()

	t.Run("empty entry array", func(t *testing.T) {
		t.Parallel()
		env := mustParse(t, []byte(` {"object":"whatsapp_business_account","entry":[]}`+"\n"))
		require.Empty(t, env.Entry)
		require.NoError(t, env.DecodeErr)
	})

	t.Run("unknown keys everywhere", func(t *testing.T) {
		t.Parallel()
		env := mustParse(t, []byte(`{"object":"whatsapp_business_account","new_top":1,"entry":[{"id":"1","x":{"y":[1]},"changes":[{"field":"messages","extra":true,"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922","new_meta":"z"},"messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1768000000","type":"text","text":{"body":"hi","preview":1},"brand_new":{"deep":[{"a":null}]}}]}}]}]}`))
		c := onlyChange(t, env)
		require.NoError(t, env.DecodeErr)
		require.NoError(t, c.DecodeErr)
		m := c.Value.Messages[0]
		require.NoError(t, m.DecodeErr)
		require.Equal(t, "hi", m.Text.Body)
		require.Contains(t, string(m.Raw), `"brand_new":{"deep":[{"a":null}]}`)
	})

	t.Run("unknown message type", func(t *testing.T) {
		t.Parallel()
		env := mustParse(t, messagesBody(`{"messages":[{"from":"16505551234","id":"wamid.B","timestamp":"1768000000","type":"hologram","hologram":{"depth":3}}]}`))
		m := onlyChange(t, env).Value.Messages[0]
		require.NoError(t, m.DecodeErr)
		require.Equal(t, "hologram", m.Type)
		require.Equal(t, "wamid.B", m.ID)
		require.JSONEq(t, `{"from":"16505551234","id":"wamid.B","timestamp":"1768000000","type":"hologram","hologram":{"depth":3}}`, string(m.Raw))
	})

	t.Run("unknown field", func(t *testing.T) {
		t.Parallel()
		env := mustParse(t, []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","time":1768000000,"changes":[{"field":"some_future_field","value":{"anything":[1,2,{"b":false}]}}]}]}`))
		c := onlyChange(t, env)
		require.NoError(t, c.DecodeErr)
		require.Equal(t, "some_future_field", c.Field)
		require.Nil(t, c.Value)
		require.Nil(t, c.TemplateStatus)
		require.JSONEq(t, `{"anything":[1,2,{"b":false}]}`, string(c.Raw))
		require.Empty(t, c.PhoneNumberID())
		require.Equal(t, "102290129340398", c.WABAID())
		require.Equal(t, time.Unix(1768000000, 0).UTC(), env.Entry[0].Timestamp())
	})

	t.Run("type mismatch keeps the rest", func(t *testing.T) {
		t.Parallel()
		// "voice" should be a bool and "timestamp" a string; the message still decodes.
		env := mustParse(t, messagesBody(`{"metadata":{"phone_number_id":"106540352242922"},"messages":[
			{"from":"16505551234","id":"wamid.C","timestamp":1768000000,"type":"audio","audio":{"id":"99","voice":"yes"}},
			{"from":"16505551234","id":"wamid.D","timestamp":"1768000001","type":"text","text":{"body":"ok"}}]}`))
		c := onlyChange(t, env)
		require.NoError(t, c.DecodeErr)
		require.Equal(t, "106540352242922", c.PhoneNumberID())
		bad, good := c.Value.Messages[0], c.Value.Messages[1]
		require.Error(t, bad.DecodeErr)
		require.Equal(t, "wamid.C", bad.ID)
		require.Equal(t, "99", bad.Audio.ID)
		require.Empty(t, bad.Timestamp)
		require.True(t, bad.Time().IsZero())
		require.NoError(t, good.DecodeErr)
		require.Equal(t, "ok", good.Text.Body)
	})

	t.Run("messages not objects", func(t *testing.T) {
		t.Parallel()
		env := mustParse(t, messagesBody(`{"messages":[1,"two",null,{"id":"wamid.E","type":"text"}],"statuses":[[]]}`))
		v := onlyChange(t, env).Value
		require.Len(t, v.Messages, 4)
		require.Error(t, v.Messages[0].DecodeErr)
		require.Equal(t, "1", string(v.Messages[0].Raw))
		require.Equal(t, `"two"`, string(v.Messages[1].Raw))
		require.Equal(t, "wamid.E", v.Messages[3].ID)
		require.Len(t, v.Statuses, 1)
		require.Error(t, v.Statuses[0].DecodeErr)
	})

	t.Run("value of the wrong shape", func(t *testing.T) {
		t.Parallel()
		env := mustParse(t, messagesBody(`["not","an","object"]`))
		c := onlyChange(t, env)
		require.Error(t, c.DecodeErr)
		require.NotNil(t, c.Value)
		require.JSONEq(t, `["not","an","object"]`, string(c.Raw))
	})

	t.Run("entry and change shapes", func(t *testing.T) {
		t.Parallel()
		env := mustParse(t, []byte(`{"entry":[7,{"id":102290129340398,"changes":[{"field":"messages"},{"field":5,"value":{}},"x"]},{"id":"1","changes":{}}]}`))
		require.Error(t, env.DecodeErr)
		require.Len(t, env.Entry, 3)
		require.Len(t, env.Entry[1].Changes, 3)
		require.Nil(t, env.Entry[1].Changes[0].Value, "absent value")
		require.Empty(t, env.Entry[1].Changes[1].Field)
		require.Empty(t, env.Entry[1].Changes[2].Field)
		require.Empty(t, env.Entry[2].Changes)
	})

	t.Run("no metadata no contacts", func(t *testing.T) {
		t.Parallel()
		env := mustParse(t, messagesBody(`{"messages":[{"id":"wamid.F","type":"request_welcome"}]}`))
		c := onlyChange(t, env)
		require.Empty(t, c.PhoneNumberID())
		m := &c.Value.Messages[0]
		require.Nil(t, m.Contact())
		waID, bsuid := m.Identity()
		require.Empty(t, waID)
		require.Empty(t, bsuid)
	})

	t.Run("raw is a copy", func(t *testing.T) {
		t.Parallel()
		body := messagesBody(`{"messages":[{"id":"wamid.G","type":"text","text":{"body":"keep"}}]}`)
		env := mustParse(t, body)
		for i := range body {
			body[i] = ' '
		}
		c := onlyChange(t, env)
		require.Contains(t, string(c.Raw), "keep")
		require.Contains(t, string(c.Value.Messages[0].Raw), "keep")
	})
}

func TestTemplateIDIsExact(t *testing.T) {
	t.Parallel()

	// 2^53+1 does not survive float64.
	env := mustParse(t, []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","time":1768006000,"changes":[{"field":"message_template_status_update","value":{"event":"APPROVED","message_template_id":9007199254740993,"message_template_name":"t","message_template_language":"en_US","reason":"NONE"}}]}]}`))
	c := onlyChange(t, env)
	require.NoError(t, c.DecodeErr)
	require.Equal(t, json.Number("9007199254740993"), c.TemplateStatus.TemplateID)
	id, err := c.TemplateStatus.TemplateID.Int64()
	require.NoError(t, err)
	require.Equal(t, int64(9007199254740993), id)

	// A quoted id reads the same.
	env = mustParse(t, []byte(`{"entry":[{"id":"1","changes":[{"field":"template_category_update","value":{"message_template_id":"1689556908129836","new_category":"MARKETING"}}]}]}`))
	require.Equal(t, json.Number("1689556908129836"), onlyChange(t, env).TemplateCategory.TemplateID)
}

func TestScalar(t *testing.T) {
	t.Parallel()

	tests := map[string]webhook.Scalar{
		`"TIER_10K"`: "TIER_10K",
		`2000`:       "2000",
		`-1`:         "-1",
		`1.5e3`:      "1.5e3",
		`true`:       "true",
		`null`:       "",
		`{"a":1}`:    "",
		`[1]`:        "",
		`"\u00e9"`:   "é",
	}
	for in, want := range tests {
		var got webhook.Scalar
		require.NoError(t, json.Unmarshal([]byte(in), &got), in)
		require.Equal(t, want, got, in)
	}
	n, err := webhook.Scalar("1768611600").Int64()
	require.NoError(t, err)
	require.Equal(t, int64(1768611600), n)
}

func TestMessageIdentity(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		value     string
		wantWaID  string
		wantBSUID string
	}{
		{
			name:      "number and bsuid on the message",
			value:     `{"contacts":[{"profile":{"name":"A"},"wa_id":"16505551234","user_id":"US.1"}],"messages":[{"from":"16505551234","from_user_id":"US.1","id":"w","type":"text"}]}`,
			wantWaID:  "16505551234",
			wantBSUID: "US.1",
		},
		{
			name:      "bsuid only from the contact",
			value:     `{"contacts":[{"profile":{"name":"A"},"wa_id":"16505551234","user_id":"US.1"}],"messages":[{"from":"16505551234","id":"w","type":"text"}]}`,
			wantWaID:  "16505551234",
			wantBSUID: "US.1",
		},
		{
			name:      "username user without from or wa_id",
			value:     `{"contacts":[{"profile":{"name":"Ana","username":"@ana"},"user_id":"BR.9"}],"messages":[{"from_user_id":"BR.9","id":"w","type":"text"}]}`,
			wantBSUID: "BR.9",
		},
		{
			name:      "empty from and wa_id",
			value:     `{"contacts":[{"profile":{"name":"Ana"},"wa_id":"","user_id":"BR.9"}],"messages":[{"from":"","from_user_id":"BR.9","id":"w","type":"text"}]}`,
			wantBSUID: "BR.9",
		},
		{
			name:      "bsuid carried in from",
			value:     `{"messages":[{"from":"US.13491208655302741918","id":"w","type":"text"}]}`,
			wantBSUID: "US.13491208655302741918",
		},
		{
			name:     "plus sign dropped",
			value:    `{"messages":[{"from":"+16505551234","id":"w","type":"text"}]}`,
			wantWaID: "16505551234",
		},
		{
			name:      "number only from the sole contact",
			value:     `{"contacts":[{"profile":{"name":"A"},"wa_id":"16505551234","user_id":"US.1"}],"messages":[{"id":"w","type":"text"}]}`,
			wantWaID:  "16505551234",
			wantBSUID: "US.1",
		},
		{
			name:     "sole contact of someone else is ignored",
			value:    `{"contacts":[{"profile":{"name":"B"},"wa_id":"4915112345678","user_id":"DE.2"}],"messages":[{"from":"16505551234","id":"w","type":"text"}]}`,
			wantWaID: "16505551234",
		},
		{
			name:      "matching contact among several",
			value:     `{"contacts":[{"wa_id":"4915112345678","user_id":"DE.2"},{"wa_id":"16505551234","user_id":"US.1"}],"messages":[{"from":"16505551234","id":"w","type":"text"}]}`,
			wantWaID:  "16505551234",
			wantBSUID: "US.1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := mustParse(t, messagesBody(tt.value))
			m := &onlyChange(t, env).Value.Messages[0]
			waID, bsuid := m.Identity()
			require.Equal(t, tt.wantWaID, waID)
			require.Equal(t, tt.wantBSUID, bsuid)
		})
	}
}

func TestStatusRecipient(t *testing.T) {
	t.Parallel()

	waID, bsuid := (&webhook.Status{RecipientID: "16505551234", RecipientUserID: "US.1"}).Recipient()
	require.Equal(t, "16505551234", waID)
	require.Equal(t, "US.1", bsuid)

	waID, bsuid = (&webhook.Status{RecipientID: "", RecipientUserID: "US.1"}).Recipient()
	require.Empty(t, waID)
	require.Equal(t, "US.1", bsuid)

	waID, _ = (&webhook.Status{RecipientID: "120363025246125486", RecipientType: "group"}).Recipient()
	require.Empty(t, waID)
}

func TestErrorString(t *testing.T) {
	t.Parallel()

	var err error = webhook.Error{Code: 131047, Title: "Re-engagement message", ErrorData: webhook.ErrorData{Details: "More than 24 hours"}}
	require.Equal(t, "(#131047) Re-engagement message: More than 24 hours", err.Error())
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()

	body := messagesBody(`{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Jos\u00e9"},"wa_id":"5215512345678"}],"messages":[{"from":"5215512345678","id":"wamid.H","timestamp":"1768000000","type":"sticker","sticker":{"id":"1","animated":true},"future":{"x":1}}],"statuses":[{"id":"wamid.I","status":"read","timestamp":"1768000001","recipient_id":"5215512345678","new_status_field":[]}]}`)
	env := mustParse(t, body)
	out, err := json.Marshal(env)
	require.NoError(t, err)
	again := mustParse(t, out)
	require.Equal(t, env.Entry[0].ID, again.Entry[0].ID)
	c := onlyChange(t, again)
	require.Equal(t, "106540352242922", c.PhoneNumberID())
	require.Contains(t, string(c.Value.Messages[0].Raw), `"future":{"x":1}`)
	require.Contains(t, string(c.Value.Statuses[0].Raw), `"new_status_field":[]`)
	waID, _ := c.Value.Messages[0].Identity()
	require.Equal(t, "5215512345678", waID)

	// A change built by hand (no Raw) marshals its typed value.
	built, err := json.Marshal(webhook.Change{Field: webhook.FieldAccountReviewUpdate, AccountReview: &webhook.AccountReviewUpdate{Decision: "APPROVED"}})
	require.NoError(t, err)
	require.JSONEq(t, `{"field":"account_review_update","value":{"decision":"APPROVED"}}`, string(built))
}
