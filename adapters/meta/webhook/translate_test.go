package webhook_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
	"github.com/wabaplatform/waba/domain"
)

func translateFixture(t *testing.T, name string) domain.Notification {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../../test/testdata/webhooks", name))
	require.NoError(t, err)
	n, err := webhook.Translate(raw)
	require.NoError(t, err)
	return n
}

// Every fixture translates change for change, routed the way inbound processing routes it.
func TestTranslateEveryFixture(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../../test/testdata/webhooks/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			env, err := webhook.Parse(raw)
			require.NoError(t, err)
			n := env.Notification()
			i := 0
			for entry, ch := range env.Changes() {
				d := n.Changes[i]
				i++
				require.Equal(t, entry.ID, d.WABAID)
				switch {
				case ch.Field == webhook.FieldMessages || ch.Field == webhook.FieldUserPreferences || ch.PhoneNumberID() != "":
					require.Equal(t, domain.NumberChange, d.Kind, ch.Field)
					require.Equal(t, ch.PhoneNumberID(), d.PhoneNumberID)
					if ch.Value != nil {
						require.Len(t, d.Messages, len(ch.Value.Messages))
						require.Len(t, d.Statuses, len(ch.Value.Statuses))
						require.Len(t, d.ErrorCodes, len(ch.Value.Errors))
						for j, m := range ch.Value.Messages {
							require.Equal(t, m.ID, d.Messages[j].WAMID)
							require.JSONEq(t, string(m.Raw), string(d.Messages[j].Raw))
						}
					}
				case strings.HasPrefix(ch.Field, "message_template_") || ch.Field == webhook.FieldTemplateCategoryUpdate:
					require.Equal(t, domain.TemplateChange, d.Kind, ch.Field)
				default:
					require.Equal(t, domain.AccountChange, d.Kind, ch.Field)
					require.Equal(t, ch.Field, d.Account.Field)
				}
			}
			require.Len(t, n.Changes, i)
		})
	}
}

func TestTranslateMessages(t *testing.T) {
	t.Parallel()

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		n := translateFixture(t, "text.json")
		require.Len(t, n.Changes, 1)
		ch := n.Changes[0]
		require.Equal(t, domain.NumberChange, ch.Kind)
		require.Equal(t, fixturePhone, ch.PhoneNumberID)
		require.Equal(t, fixtureWABA, ch.WABAID)
		m := ch.Messages[0]
		require.Equal(t, domain.Sender{WaID: "5215512345678", BSUID: "MX.11398273645501928374", Name: "José García"}, m.Sender)
		require.Equal(t, "text", m.Type)
		require.False(t, m.System)
		require.Equal(t, time.Unix(1768000000, 0).UTC(), m.At)
		require.Equal(t, "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFDNBMUYwQzJCOUU3RDRBNTVCNkMxAA==", m.WAMID)
		require.JSONEq(t, `{"body":"Hola, \u00bftienen env\u00edo a Monterrey? \ud83c\udf89"}`, string(m.Content))
		require.Equal(t, []string{"Hola, ¿tienen envío a Monterrey? 🎉"}, m.Replies)
		// Meta's message, as received, rides in Raw.
		require.Contains(t, string(m.Raw), `"from_user_id":"MX.11398273645501928374"`)
		require.Contains(t, string(m.Raw), `"type":"text"`)
	})
	t.Run("content is the type object", func(t *testing.T) {
		t.Parallel()
		for name, want := range map[string]string{
			"image.json":           `{"caption":"Foto del paquete da\u00f1ado","mime_type":"image/jpeg","sha256":"HgNyJkSD1oQXy0f7Dcfx1aDLzaBvGXxHqUS3H3mL0nU=","id":"1479537139650973","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1479537139650973&ext=1768000200&hash=ATtMnG8Lq0yI5yKQ%3D%3D"}`,
			"request_welcome.json": `{}`,
			"unsupported.json":     `{"type":"edit"}`,
		} {
			m := translateFixture(t, name).Changes[0].Messages[0]
			require.Equal(t, strings.TrimSuffix(name, ".json"), m.Type, name)
			require.JSONEq(t, want, string(m.Content), name)
			require.NotEmpty(t, m.Raw, name)
		}
	})
	t.Run("no sender", func(t *testing.T) {
		t.Parallel()
		m := translateBody(t, `{"id":"wamid.X","type":"text","text":{"body":"hi"}}`)
		require.Equal(t, "wamid.X", m.WAMID, "kept: inbound processing counts it as having no sender")
		require.Equal(t, domain.Sender{}, m.Sender)
		require.True(t, m.At.IsZero())
	})
	t.Run("keyword texts", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{" Stop "}, translateFixture(t, "text_stop.json").Changes[0].Messages[0].Replies)
		btn := translateFixture(t, "button_quick_reply.json").Changes[0].Messages[0]
		require.Equal(t, "button", btn.Type)
		require.Len(t, btn.Replies, 2, "label, then payload")
		require.Equal(t, []string{"Stop promotions", "STOP_PROMOTIONS"}, btn.Replies)
		require.Equal(t, "16505551234", btn.Sender.WaID)
		stop := translateBody(t, `{"from":"14155550101","id":"wamid.B1","timestamp":"1768000000","type":"button",
			"button":{"payload":"p1","text":"Stop"}}`)
		require.JSONEq(t, `{"payload":"p1","text":"Stop"}`, string(stop.Content))
		require.Equal(t, []string{"Stop", "p1"}, stop.Replies)
		list := translateFixture(t, "interactive_list_reply.json").Changes[0].Messages[0]
		require.Len(t, list.Replies, 2, "title, then id")
		for _, f := range []string{"image.json", "reaction.json", "location.json", "request_welcome.json"} {
			require.Empty(t, translateFixture(t, f).Changes[0].Messages[0].Replies, f)
		}
	})
	t.Run("system notice", func(t *testing.T) {
		t.Parallel()
		m := translateFixture(t, "system_user_changed_number.json").Changes[0].Messages[0]
		require.Equal(t, "system", m.Type)
		require.True(t, m.System)
		require.Equal(t, "16505551234", m.Sender.WaID)
	})
	t.Run("username user", func(t *testing.T) {
		t.Parallel()
		m := translateFixture(t, "bsuid_only_user.json").Changes[0].Messages[0]
		require.Equal(t, domain.Sender{BSUID: "BR.13491208655302741918", Name: "Ana"}, m.Sender)
	})
	t.Run("untyped and unknown types", func(t *testing.T) {
		t.Parallel()
		m := translateFixture(t, "unknown_message_type.json").Changes[0].Messages[0]
		require.NotEmpty(t, m.Type)
		require.JSONEq(t, `{}`, string(translateFixture(t, "request_welcome.json").Changes[0].Messages[0].Content))
	})
	t.Run("a call is routed, nothing else", func(t *testing.T) {
		t.Parallel()
		ch := translateFixture(t, "unknown_field.json").Changes[0]
		require.Equal(t, domain.Change{Kind: domain.NumberChange, WABAID: fixtureWABA, PhoneNumberID: fixturePhone}, ch)
	})
	t.Run("notification errors", func(t *testing.T) {
		t.Parallel()
		require.NotEmpty(t, translateFixture(t, "value_errors.json").Changes[0].ErrorCodes)
	})
}

func TestTranslateStatuses(t *testing.T) {
	t.Parallel()

	failed := translateFixture(t, "status_failed_131047.json").Changes[0].Statuses[0]
	require.Equal(t, "failed", failed.Status)
	require.Equal(t, time.Unix(1768003200, 0).UTC(), failed.At)
	require.Equal(t, "msg:01946f3b-0000-7000-8000-000000000047", failed.CallbackData)
	require.NotNil(t, failed.Error)
	require.Equal(t, 131047, failed.Error.Code)
	require.Equal(t, "Re-engagement message", failed.Error.Title)
	require.NotEmpty(t, failed.Error.Detail)
	require.True(t, json.Valid(failed.Errors))
	require.Empty(t, failed.Pricing, "failed carries no pricing")
	e, ok := webhook.FirstError(failed.Errors)
	require.True(t, ok)
	require.Equal(t, *failed.Error, e, "what the status history keeps reads back the same")

	sent := translateFixture(t, "status_sent.json").Changes[0].Statuses[0]
	require.Equal(t, "sent", sent.Status)
	require.Equal(t, "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRCSVowMDAwMDAwMDAwMDAwQjAwMQA=", sent.WAMID)
	require.Equal(t, time.Unix(1768003000, 0).UTC(), sent.At)
	require.Equal(t, "msg:01946f3a-7c2e-7b41-9d3a-5e8f0c1a2b3c", sent.CallbackData)
	require.Nil(t, sent.Error)
	require.Nil(t, sent.Errors)
	var pricing map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(sent.Pricing, &pricing))
	require.JSONEq(t, `"marketing"`, string(pricing["category"]))
	require.Contains(t, pricing, "conversation", "the conversation object rides along for the ledger")
}

func TestTranslatePreferences(t *testing.T) {
	t.Parallel()
	stop := translateFixture(t, "user_preferences_stop.json").Changes[0]
	require.Equal(t, domain.NumberChange, stop.Kind)
	require.Equal(t, []domain.PreferenceChange{{Sender: domain.Sender{WaID: "16505551234", Name: "Sheena Nelson"},
		Stop: true, Category: "marketing_messages"}}, stop.Preferences)
	resume := translateFixture(t, "user_preferences_resume.json").Changes[0].Preferences
	require.Len(t, resume, 1)
	require.False(t, resume[0].Stop)
}

func TestTranslateTemplates(t *testing.T) {
	t.Parallel()
	ch := translateFixture(t, "template_status_approved.json").Changes[0]
	require.Equal(t, domain.TemplateChange, ch.Kind)
	require.Equal(t, fixtureWABA, ch.WABAID)
	require.Equal(t, time.Unix(1768006000, 0).UTC(), ch.At)
	none := "NONE"
	require.Equal(t, &domain.TemplateUpdate{Name: "order_confirmation", Language: "en_US", MetaTemplateID: "1689556908129832",
		Status: "APPROVED", Category: "UTILITY", Reason: &none}, ch.Template)

	q := translateFixture(t, "template_quality_update.json").Changes[0].Template
	require.NotEmpty(t, q.QualityScore)
	require.Empty(t, q.Status)
	c := translateFixture(t, "template_category_update.json").Changes[0].Template
	require.NotEmpty(t, c.Category)
	require.Nil(t, c.Reason)
}

func TestTranslateAccount(t *testing.T) {
	t.Parallel()

	name := translateFixture(t, "phone_number_name_update.json").Changes[0]
	require.Equal(t, domain.AccountChange, name.Kind)
	require.Equal(t, "phone_number_name_update", name.Account.Field)
	require.Equal(t, "APPROVED", name.Account.Event)
	require.Equal(t, &domain.NumberUpdate{DisplayPhoneNumber: "15550783881", NameStatus: "APPROVED", VerifiedName: "Panadería José"},
		name.Account.Number)
	require.True(t, json.Valid(name.Account.Payload))

	quality := translateFixture(t, "phone_number_quality_update.json").Changes[0].Account
	require.Equal(t, &domain.NumberUpdate{DisplayPhoneNumber: "15550783881", MessagingLimitTier: "TIER_10K"}, quality.Number)
	require.Equal(t, "UPGRADE", quality.Event)

	capability := translateFixture(t, "business_capability_update.json").Changes[0].Account
	require.Equal(t, "TIER_2K", capability.LimitTier)
	require.Empty(t, capability.Event)

	gone := translateFixture(t, "account_update_partner_app_uninstalled.json").Changes[0].Account
	require.Equal(t, "PARTNER_APP_UNINSTALLED", gone.Event)
	require.True(t, gone.Disconnected)
	restriction := translateFixture(t, "account_update_restriction.json").Changes[0]
	require.Equal(t, time.Unix(1768006700, 0).UTC(), restriction.At)
	require.Equal(t, "ACCOUNT_RESTRICTION", restriction.Account.Event)
	require.False(t, restriction.Account.Disconnected)

	require.NotEmpty(t, translateFixture(t, "account_alerts.json").Changes[0].Account.Event)
	require.NotEmpty(t, translateFixture(t, "account_review_update.json").Changes[0].Account.Event)
}

// Older phone_number_quality_update events name the quality: FLAGGED is low (RED),
// UNFLAGGED no longer low; current events leave it alone.
func TestTranslateFlaggedQuality(t *testing.T) {
	t.Parallel()
	for event, want := range map[string]string{"FLAGGED": "RED", "unflagged": "YELLOW", "THROUGHPUT_UPGRADE": "", "DOWNGRADE": ""} {
		n, err := webhook.Translate([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + fixtureWABA + `","time":1768006500,
			"changes":[{"field":"phone_number_quality_update","value":{"display_phone_number":"` + fixtureNumber + `","event":"` + event + `"}}]}]}`))
		require.NoError(t, err)
		require.Equal(t, &domain.NumberUpdate{DisplayPhoneNumber: fixtureNumber, QualityRating: want}, n.Changes[0].Account.Number, event)
	}
}

// translateBody is the one message m, sent to fixturePhone, as translated.
func translateBody(t *testing.T, m string) domain.InboundMessage {
	t.Helper()
	n, err := webhook.Translate([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + fixtureWABA + `",
		"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` + fixturePhone + `"},"messages":[` + m + `]}}]}]}`))
	require.NoError(t, err)
	return n.Changes[0].Messages[0]
}

func TestTranslateMalformed(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"nope", `[]`, `{"entry":{}}`, `{}`} {
		_, err := webhook.Translate([]byte(raw))
		require.ErrorIs(t, err, webhook.ErrMalformed, raw)
	}
}
