package webhook_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
)

const (
	fixtureDir    = "../../../test/testdata/webhooks"
	fixtureWABA   = "102290129340398"
	fixturePhone  = "106540352242922"
	fixtureNumber = "15550783881"
)

// fixture is what one file of the corpus must parse to.
type fixture struct {
	fields   []string // Field of every change, in order
	messages int
	statuses int
	check    func(t *testing.T, env *webhook.Envelope, msgs []*webhook.Message, sts []*webhook.Status)
}

var fixtures = map[string]fixture{
	"text.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, env *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		m := msgs[0]
		require.Equal(t, "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFDNBMUYwQzJCOUU3RDRBNTVCNkMxAA==", m.ID)
		require.Equal(t, webhook.TypeText, m.Type)
		require.Equal(t, "Hola, ¿tienen envío a Monterrey? 🎉", m.Text.Body)
		require.Equal(t, time.Date(2026, 1, 9, 23, 6, 40, 0, time.UTC), m.Time())
		require.Equal(t, "José García", m.Contact().Profile.Name)
		waID, bsuid := m.Identity()
		require.Equal(t, "5215512345678", waID)
		require.Equal(t, "MX.11398273645501928374", bsuid)
	}},
	"text_stop.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Equal(t, " Stop ", msgs[0].Text.Body)
	}},
	"image.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		img := msgs[0].Image
		require.Equal(t, "1479537139650973", img.ID)
		require.Equal(t, "image/jpeg", img.MimeType)
		require.Equal(t, "Foto del paquete dañado", img.Caption)
		require.Equal(t, "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1479537139650973&ext=1768000200&hash=ATtMnG8Lq0yI5yKQ%3D%3D", img.URL)
		require.NotEmpty(t, img.SHA256)
	}},
	"video.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Equal(t, "video/mp4", msgs[0].Video.MimeType)
		require.Equal(t, "Unboxing", msgs[0].Video.Caption)
	}},
	"audio_voice.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.True(t, msgs[0].Audio.Voice)
		require.Equal(t, "audio/ogg; codecs=opus", msgs[0].Audio.MimeType)
		require.Equal(t, "Jürgen Müller", msgs[0].Contact().Profile.Name)
	}},
	"document.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Equal(t, "Factura_0042.pdf", msgs[0].Document.Filename)
		require.Equal(t, "application/pdf", msgs[0].Document.MimeType)
	}},
	"sticker.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Equal(t, "image/webp", msgs[0].Sticker.MimeType)
		require.False(t, msgs[0].Sticker.Animated)
	}},
	"location.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		loc := msgs[0].Location
		require.InDelta(t, 19.435478, loc.Latitude, 1e-9)
		require.InDelta(t, -99.141164, loc.Longitude, 1e-9)
		require.Equal(t, "Av. Juárez S/N, Centro, 06050 Ciudad de México", loc.Address)
	}},
	"contacts.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Len(t, msgs[0].Contacts, 1)
		card := msgs[0].Contacts[0]
		require.Equal(t, "Bjørn Åsen", card.Name.FormattedName)
		require.Equal(t, "bjorn.aasen@example.com", card.Emails[0].Email)
		require.Len(t, card.Phones, 2)
		require.Equal(t, "16505559876", card.Phones[0].WaID)
		require.Empty(t, card.Phones[1].WaID)
		require.Equal(t, "Lucky Shrub", card.Org.Company)
		require.Equal(t, "https://www.luckyshrub.com", card.URLs[0].URL)
		require.Equal(t, "94025", card.Addresses[0].Zip)
		require.Equal(t, "1990-04-12", card.Birthday)
	}},
	"interactive_button_reply.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		m := msgs[0]
		require.Equal(t, webhook.InteractiveButtonReply, m.Interactive.Type)
		require.Equal(t, webhook.ButtonReply{ID: "confirm_yes", Title: "Yes"}, *m.Interactive.ButtonReply)
		require.Equal(t, fixtureNumber, m.Context.From)
		require.NotEmpty(t, m.Context.ID)
	}},
	"interactive_list_reply.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		m := msgs[0]
		require.Equal(t, webhook.ListReply{ID: "slot_10", Title: "10:00", Description: "सुबह"}, *m.Interactive.ListReply)
		require.Equal(t, "प्रिया शर्मा", m.Contact().Profile.Name)
	}},
	"interactive_nfm_reply.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		nfm := msgs[0].Interactive.NFMReply
		require.Equal(t, "flow", nfm.Name)
		var resp map[string]string
		require.NoError(t, json.Unmarshal([]byte(nfm.ResponseJSON), &resp))
		require.Equal(t, "flows-builder-7f3c2a", resp["flow_token"])
		require.Equal(t, "2026-02-03", resp["appointment_date"])
	}},
	"button_quick_reply.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Equal(t, webhook.TypeButton, msgs[0].Type)
		require.Equal(t, webhook.Button{Payload: "STOP_PROMOTIONS", Text: "Stop promotions"}, *msgs[0].Button)
	}},
	"reaction.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Equal(t, "👍", msgs[0].Reaction.Emoji)
		require.Equal(t, "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFEJJWjAwMDAwMDAwMDAwMDBBMDA1AA==", msgs[0].Reaction.MessageID)
	}},
	"reaction_removed.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Empty(t, msgs[0].Reaction.Emoji)
		require.NotEmpty(t, msgs[0].Reaction.MessageID)
	}},
	"order.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		o := msgs[0].Order
		require.Equal(t, "194836987003835", o.CatalogID)
		require.Len(t, o.ProductItems, 2)
		require.Equal(t, webhook.ProductItem{ProductRetailerID: "nqryix03ez", Quantity: "1", ItemPrice: "12.5", Currency: "USD"}, o.ProductItems[1])
	}},
	"system_user_changed_number.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		m := msgs[0]
		require.Nil(t, m.Contact(), "system messages carry no contacts")
		require.Equal(t, webhook.SystemUserChangedNumber, m.System.Type)
		require.Equal(t, "12195555358", m.System.WaID)
		waID, _ := m.Identity()
		require.Equal(t, "16505551234", waID)
	}},
	"system_user_changed_user_id.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		m := msgs[0]
		require.Equal(t, webhook.SystemUserChangedUserID, m.System.Type)
		require.Equal(t, "BR.50928374650192837465", m.System.UserID)
		waID, bsuid := m.Identity()
		require.Empty(t, waID)
		require.Equal(t, "BR.13491208655302741918", bsuid)
	}},
	"request_welcome.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Equal(t, webhook.TypeRequestWelcome, msgs[0].Type)
		require.Nil(t, msgs[0].Text)
	}},
	"unsupported.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		m := msgs[0]
		require.Equal(t, webhook.TypeUnsupported, m.Type)
		require.Equal(t, "edit", m.Unsupported.Type)
		require.Len(t, m.Errors, 1)
		require.Equal(t, 131051, m.Errors[0].Code)
		require.Equal(t, "Message type is currently not supported.", m.Errors[0].ErrorData.Details)
	}},
	"referral_ad_text.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		r := msgs[0].Referral
		require.Equal(t, "ad", r.SourceType)
		require.Equal(t, "https://fb.me/3cr4Wqqkv", r.SourceURL)
		require.Equal(t, "120226305854810726", r.SourceID)
		require.Equal(t, "¡Rebajas de verano! 30% en todas las plantas", r.Body)
		require.True(t, strings.HasPrefix(r.CtwaClid, "ARAkLkA8"))
		require.Equal(t, "¡Hola! ¿Te interesan las rebajas?", r.WelcomeMessage.Text)
		require.Equal(t, "Quiero más información", msgs[0].Text.Body)
	}},
	"reply_context.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		m := msgs[0]
		require.Equal(t, "नमस्ते", m.Text.Body)
		require.Equal(t, fixtureNumber, m.Context.From)
		require.Equal(t, "wamid.HBgMOTE5ODEyMzQ1Njc4FQIAEhgUQklaMDAwMDAwMDAwMDAwMEEwMDYA", m.Context.ID)
		require.Equal(t, "DF2lS5v2W6x=", m.Contact().IdentityKeyHash)
	}},
	"product_enquiry.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Equal(t, webhook.ReferredProduct{CatalogID: "194836987003835", ProductRetailerID: "di9ozbzfi4"}, *msgs[0].Context.ReferredProduct)
	}},
	"forwarded.json": {fields: []string{"messages"}, messages: 2, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.True(t, msgs[0].Context.Forwarded)
		require.False(t, msgs[0].Context.FrequentlyForwarded)
		require.Equal(t, "Grüße aus München", msgs[0].Text.Body)
		require.True(t, msgs[1].Context.FrequentlyForwarded)
		require.Equal(t, webhook.TypeImage, msgs[1].Type)
	}},
	"bsuid_only_user.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		m := msgs[0]
		require.Empty(t, m.From)
		require.Equal(t, "BR.13491208655302741918", m.FromUserID)
		require.Equal(t, webhook.Profile{Name: "Ana", Username: "@ana.b", CountryCode: "BR"}, m.Contact().Profile)
		require.Empty(t, m.Contact().WaID)
		waID, bsuid := m.Identity()
		require.Empty(t, waID)
		require.Equal(t, "BR.13491208655302741918", bsuid)
		require.Equal(t, "Oi! Vocês entregam em São Paulo?", m.Text.Body)
	}},
	"group_text.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		require.Equal(t, "Y2FwaV9ncm91cDoxNTU1MDc4Mzg4MToxMjAzNjM0MDQ0NjY2NzU1NzU=", msgs[0].GroupID)
	}},
	"batch.json": {fields: []string{"messages", "messages", "messages"}, messages: 3, statuses: 5, check: func(t *testing.T, env *webhook.Envelope, msgs []*webhook.Message, sts []*webhook.Status) {
		require.Len(t, env.Entry, 2)
		names := []string{msgs[0].Contact().Profile.Name, msgs[1].Contact().Profile.Name, msgs[2].Contact().Profile.Name}
		require.Equal(t, []string{"Sheena Nelson", "José García", "Sheena Nelson"}, names)
		require.Equal(t, "¡Gracias! 🙏", msgs[1].Text.Body)
		require.Equal(t, "❤️", msgs[2].Reaction.Emoji)
		got := make([]string, len(sts))
		for i, s := range sts {
			got[i] = s.Status
		}
		require.Equal(t, []string{"read", "sent", "delivered", "failed", "played"}, got)
		require.Equal(t, 131026, sts[3].Errors[0].Code)
		require.Equal(t, "PMP", sts[1].Pricing.PricingModel)
	}},
	"status_sent.json": {fields: []string{"messages"}, statuses: 1, check: func(t *testing.T, _ *webhook.Envelope, _ []*webhook.Message, sts []*webhook.Status) {
		s := sts[0]
		require.Equal(t, "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRCSVowMDAwMDAwMDAwMDAwQjAwMQA=", s.ID)
		require.Equal(t, webhook.StatusSent, s.Status)
		require.Equal(t, "msg:01946f3a-7c2e-7b41-9d3a-5e8f0c1a2b3c", s.BizOpaqueCallbackData)
		require.NotNil(t, s.Pricing.Billable)
		require.True(t, *s.Pricing.Billable)
		require.Equal(t, webhook.Pricing{Billable: s.Pricing.Billable, PricingModel: "PMP", Type: "regular", Category: "marketing"}, *s.Pricing)
		require.Equal(t, "marketing", s.Conversation.Origin.Type)
		require.Equal(t, webhook.Scalar("1768089400"), s.Conversation.ExpirationTimestamp)
		waID, _ := s.Recipient()
		require.Equal(t, "16505551234", waID)
	}},
	"status_delivered.json": {fields: []string{"messages"}, statuses: 1, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, sts []*webhook.Status) {
		require.Equal(t, webhook.StatusDelivered, sts[0].Status)
		require.Nil(t, sts[0].Pricing)
		require.Equal(t, "US.13491208655302741918", env.Entry[0].Changes[0].Value.Contacts[0].UserID)
	}},
	"status_read.json": {fields: []string{"messages"}, statuses: 1, check: func(t *testing.T, _ *webhook.Envelope, _ []*webhook.Message, sts []*webhook.Status) {
		s := sts[0]
		require.Equal(t, webhook.StatusRead, s.Status)
		require.False(t, *s.Pricing.Billable)
		require.Equal(t, "free_customer_service", s.Pricing.Type)
		waID, bsuid := s.Recipient()
		require.Equal(t, "5215512345678", waID)
		require.Equal(t, "MX.11398273645501928374", bsuid)
		require.Equal(t, time.Unix(1768003100, 0).UTC(), s.Time())
	}},
	"status_failed_131047.json": {fields: []string{"messages"}, statuses: 1, check: func(t *testing.T, _ *webhook.Envelope, _ []*webhook.Message, sts []*webhook.Status) {
		s := sts[0]
		require.Equal(t, webhook.StatusFailed, s.Status)
		require.Nil(t, s.Pricing)
		require.Len(t, s.Errors, 1)
		require.Equal(t, 131047, s.Errors[0].Code)
		require.Equal(t, "Re-engagement message", s.Errors[0].Title)
		require.Equal(t, "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/", s.Errors[0].Href)
	}},
	"status_failed_131026.json": {fields: []string{"messages"}, statuses: 1, check: func(t *testing.T, _ *webhook.Envelope, _ []*webhook.Message, sts []*webhook.Status) {
		require.Equal(t, 131026, sts[0].Errors[0].Code)
		require.Equal(t, "Message Undeliverable.", sts[0].Errors[0].ErrorData.Details)
	}},
	"user_preferences_stop.json": {fields: []string{"user_preferences"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		v := env.Entry[0].Changes[0].Value
		require.Len(t, v.UserPreferences, 1)
		p := v.UserPreferences[0]
		require.Equal(t, webhook.PreferenceStop, p.Value)
		require.Equal(t, "marketing_messages", p.Category)
		require.Equal(t, "16505551234", p.WaID)
		require.Equal(t, time.Unix(1768005000, 0).UTC(), p.Time())
	}},
	"user_preferences_resume.json": {fields: []string{"user_preferences"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		p := env.Entry[0].Changes[0].Value.UserPreferences[0]
		require.Equal(t, webhook.PreferenceResume, p.Value)
		require.Equal(t, "MX.11398273645501928374", p.UserID)
	}},
	"template_status_approved.json": {fields: []string{"message_template_status_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		u := env.Entry[0].Changes[0].TemplateStatus
		require.Equal(t, "APPROVED", u.Event)
		require.Equal(t, json.Number("1689556908129832"), u.TemplateID)
		require.Equal(t, "order_confirmation", u.Name)
		require.Equal(t, "en_US", u.Language)
		require.Equal(t, "UTILITY", u.Category)
		require.Equal(t, "NONE", *u.Reason)
		require.Equal(t, time.Unix(1768006000, 0).UTC(), env.Entry[0].Timestamp())
	}},
	"template_status_rejected.json": {fields: []string{"message_template_status_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		u := env.Entry[0].Changes[0].TemplateStatus
		require.Equal(t, "REJECTED", u.Event)
		require.Equal(t, "INVALID_FORMAT", *u.Reason)
		require.Equal(t, "Add text before or after {{1}} and resubmit.", u.RejectionInfo.Recommendation)
	}},
	"template_status_paused.json": {fields: []string{"message_template_status_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		u := env.Entry[0].Changes[0].TemplateStatus
		require.Equal(t, "PAUSED", u.Event)
		require.Equal(t, "FIRST_PAUSE", u.OtherInfo.Title)
	}},
	"template_status_pending_deletion.json": {fields: []string{"message_template_status_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		u := env.Entry[0].Changes[0].TemplateStatus
		require.Equal(t, "PENDING_DELETION", u.Event)
		require.Nil(t, u.Reason, "reason is null")
	}},
	"template_quality_update.json": {fields: []string{"message_template_quality_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		u := env.Entry[0].Changes[0].TemplateQuality
		require.Equal(t, "GREEN", u.PreviousQualityScore)
		require.Equal(t, "YELLOW", u.NewQualityScore)
		require.Equal(t, json.Number("1689556908129834"), u.TemplateID)
	}},
	"template_category_update.json": {fields: []string{"template_category_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		u := env.Entry[0].Changes[0].TemplateCategory
		require.Equal(t, "UTILITY", u.PreviousCategory)
		require.Equal(t, "MARKETING", u.NewCategory)
		require.Equal(t, json.Number("1689556908129836"), u.TemplateID)
	}},
	"phone_number_quality_update.json": {fields: []string{"phone_number_quality_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		c := &env.Entry[0].Changes[0]
		require.Equal(t, webhook.PhoneNumberQualityUpdate{DisplayPhoneNumber: fixtureNumber, Event: "UPGRADE", CurrentLimit: "TIER_10K", OldLimit: "TIER_2K", MaxDailyConversationsPerBusiness: "TIER_10K"}, *c.PhoneNumberQuality)
		require.Equal(t, fixtureNumber, c.DisplayPhoneNumber())
	}},
	"phone_number_name_update.json": {fields: []string{"phone_number_name_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		u := env.Entry[0].Changes[0].PhoneNumberName
		require.Equal(t, "APPROVED", u.Decision)
		require.Equal(t, "Panadería José", u.RequestedVerifiedName)
		require.Nil(t, u.RejectionReason)
	}},
	"account_update_restriction.json": {fields: []string{"account_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		u := env.Entry[0].Changes[0].AccountUpdate
		require.Equal(t, webhook.AccountEventRestriction, u.Event)
		require.Equal(t, []webhook.RestrictionInfo{{RestrictionType: "RESTRICTED_BIZ_INITIATED_MESSAGING", Expiration: "1768611600"}}, u.RestrictionInfo)
	}},
	"account_update_partner_app_uninstalled.json": {fields: []string{"account_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		u := env.Entry[0].Changes[0].AccountUpdate
		require.Equal(t, webhook.AccountEventPartnerAppUninstalled, u.Event)
		require.Equal(t, fixtureWABA, u.WABAInfo.WABAID)
		require.Equal(t, "869361281603019", u.WABAInfo.PartnerAppID)
	}},
	"account_alerts.json": {fields: []string{"account_alerts"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		a := env.Entry[0].Changes[0].AccountAlert
		require.Equal(t, "BUSINESS", a.EntityType)
		require.Equal(t, "INCREASED_CAPABILITIES_ELIGIBILITY_DEFERRED", a.AlertInfo.AlertType)
		require.Equal(t, "WARNING", a.AlertInfo.AlertSeverity)
	}},
	"account_review_update.json": {fields: []string{"account_review_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		require.Equal(t, "APPROVED", env.Entry[0].Changes[0].AccountReview.Decision)
	}},
	"business_capability_update.json": {fields: []string{"business_capability_update"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		u := env.Entry[0].Changes[0].BusinessCapability
		require.Equal(t, webhook.Scalar("2000"), u.MaxDailyConversationsPerBusiness)
		require.Equal(t, webhook.Scalar("25"), u.MaxPhoneNumbersPerWABA)
	}},
	"value_errors.json": {fields: []string{"messages"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		v := env.Entry[0].Changes[0].Value
		require.Len(t, v.Errors, 1)
		require.Equal(t, 131000, v.Errors[0].Code)
	}},
	"unknown_field.json": {fields: []string{"calls"}, check: func(t *testing.T, env *webhook.Envelope, _ []*webhook.Message, _ []*webhook.Status) {
		c := &env.Entry[0].Changes[0]
		require.Nil(t, c.Value)
		require.Contains(t, string(c.Raw), `"calls":[`)
		// Untyped fields that carry metadata still route by phone number.
		require.Equal(t, fixturePhone, c.PhoneNumberID())
		require.Equal(t, fixtureNumber, c.DisplayPhoneNumber())
	}},
	"unknown_message_type.json": {fields: []string{"messages"}, messages: 1, check: func(t *testing.T, _ *webhook.Envelope, msgs []*webhook.Message, _ []*webhook.Status) {
		m := msgs[0]
		require.Equal(t, "poll_response", m.Type)
		require.Nil(t, m.Text)
		require.Contains(t, string(m.Raw), `"poll_response":{`)
		require.Contains(t, string(m.Raw), `"new_top_level_field":{"nested":[1,2,3]}`)
	}},
}

func readFixtures(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(tb, err)
	require.NotEmpty(tb, paths)
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(tb, err)
		out[filepath.Base(p)] = raw
	}
	return out
}

func collect(env *webhook.Envelope) (msgs []*webhook.Message, sts []*webhook.Status) {
	for _, c := range env.Changes() {
		if c.Value == nil {
			continue
		}
		for i := range c.Value.Messages {
			msgs = append(msgs, &c.Value.Messages[i])
		}
		for i := range c.Value.Statuses {
			sts = append(sts, &c.Value.Statuses[i])
		}
	}
	return msgs, sts
}

func TestFixtures(t *testing.T) {
	t.Parallel()

	files := readFixtures(t)
	for name := range fixtures {
		require.Contains(t, files, name, "fixture listed in the table but missing on disk")
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)

	for _, name := range names {
		raw := files[name]
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			t.Parallel()
			want, ok := fixtures[name]
			require.True(t, ok, "every fixture needs an entry in the fixtures table")

			// Meta escapes all non-ASCII as \uXXXX; the corpus must be byte-faithful.
			for i, b := range raw {
				require.Less(t, b, byte(0x80), "non-ASCII byte at offset %d", i)
			}
			require.True(t, webhook.VerifySignature([]byte("fixture-secret"), raw, webhook.Sign([]byte("fixture-secret"), raw)))

			env, err := webhook.Parse(raw)
			require.NoError(t, err)
			require.NoError(t, env.DecodeErr)
			require.Equal(t, webhook.Object, env.Object)

			var fields []string
			for entry, c := range env.Changes() {
				fields = append(fields, c.Field)
				require.Equal(t, fixtureWABA, entry.ID)
				require.Equal(t, fixtureWABA, c.WABAID())
				require.NoError(t, c.DecodeErr)
				require.NotEmpty(t, c.Raw)
				if c.Value != nil {
					require.Equal(t, "whatsapp", c.Value.MessagingProduct)
					require.Equal(t, fixturePhone, c.PhoneNumberID())
					require.Equal(t, fixtureNumber, c.DisplayPhoneNumber())
				}
			}
			require.Equal(t, want.fields, fields)

			msgs, sts := collect(env)
			require.Len(t, msgs, want.messages)
			require.Len(t, sts, want.statuses)
			for _, m := range msgs {
				require.NoError(t, m.DecodeErr)
				require.True(t, json.Valid(m.Raw))
				require.True(t, strings.HasPrefix(m.ID, "wamid."), m.ID)
				require.False(t, m.Time().IsZero())
				waID, bsuid := m.Identity()
				require.True(t, waID != "" || bsuid != "", "every fixture message has a sender")
			}
			for _, s := range sts {
				require.NoError(t, s.DecodeErr)
				require.True(t, json.Valid(s.Raw))
				require.Contains(t, []string{webhook.StatusSent, webhook.StatusDelivered, webhook.StatusRead, webhook.StatusPlayed, webhook.StatusFailed}, s.Status)
			}
			if want.check != nil {
				want.check(t, env, msgs, sts)
			}

			// A parsed envelope re-serializes (raw values kept) and parses the same.
			out, err := json.Marshal(env)
			require.NoError(t, err)
			again, err := webhook.Parse(out)
			require.NoError(t, err)
			msgs2, sts2 := collect(again)
			require.Len(t, msgs2, len(msgs))
			require.Len(t, sts2, len(sts))
		})
	}
}
