package webhook_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wabaplatform/waba/adapters/meta/webhook"
)

// benchPayload is one realistic POST: ten inbound messages of mixed types from five users
// (with contacts, a reply context and a referral) and ten statuses with pricing and errors,
// in two changes of one entry.
func benchPayload() []byte {
	var msgs, contacts, statuses []string
	for i := range 5 {
		contacts = append(contacts, fmt.Sprintf(`{"profile":{"name":"Jos\u00e9 Garc\u00eda %d"},"wa_id":"52155123456%02d","user_id":"MX.113982736455019283%02d"}`, i, i, i))
	}
	kinds := []string{
		`"type":"text","text":{"body":"Hola, \u00bftienen env\u00edo a Monterrey? \ud83c\udf89"}`,
		`"type":"image","image":{"caption":"Foto","mime_type":"image\/jpeg","sha256":"HgNyJkSD1oQXy0f7Dcfx1aDLzaBvGXxHqUS3H3mL0nU=","id":"1479537139650973"}`,
		`"context":{"from":"15550783881","id":"wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFEJJWjAwMDAwMDAwMDAwMDBBMDA1AA=="},"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"confirm_yes","title":"Yes"}}`,
		`"referral":{"source_url":"https:\/\/fb.me\/3cr4Wqqkv","source_id":"120226305854810726","source_type":"ad","headline":"Verano","body":"Rebajas","media_type":"image","ctwa_clid":"ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0"},"type":"text","text":{"body":"Quiero m\u00e1s informaci\u00f3n"}`,
		`"type":"reaction","reaction":{"message_id":"wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFEJJWjAwMDAwMDAwMDAwMDBBMDA1AA==","emoji":"\ud83d\udc4d"}`,
	}
	for i := range 10 {
		msgs = append(msgs, fmt.Sprintf(`{"from":"52155123456%02d","from_user_id":"MX.113982736455019283%02d","id":"wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFDNBMUYwQzJCOUU3RDRBNTVCNk%02dAA==","timestamp":"17680000%02d",%s}`, i%5, i%5, i, i, kinds[i%len(kinds)]))
	}
	for i := range 10 {
		extra := `"pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}`
		status := []string{"sent", "delivered", "read"}[i%3]
		if i == 9 {
			status = "failed"
			extra = `"errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"href":"https:\/\/developers.facebook.com\/docs\/whatsapp\/cloud-api\/support\/error-codes\/"}]`
		}
		statuses = append(statuses, fmt.Sprintf(`{"id":"wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFEJJWjAwMDAwMDAwMDAwMDBCMD%02dAA==","status":"%s","timestamp":"17680030%02d","recipient_id":"52155123456%02d","biz_opaque_callback_data":"msg:01946f3a-7c2e-7b41-9d3a-5e8f0c1a2b%02d",%s}`, i, status, i, i%5, i, extra))
	}
	meta := `"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}`
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[` +
		`{"value":{` + meta + `,"contacts":[` + strings.Join(contacts, ",") + `],"messages":[` + strings.Join(msgs, ",") + `]},"field":"messages"},` +
		`{"value":{` + meta + `,"statuses":[` + strings.Join(statuses, ",") + `]},"field":"messages"}]}]}`)
}

func BenchmarkParse(b *testing.B) {
	raw := benchPayload()
	env, err := webhook.Parse(raw)
	if err != nil || env.DecodeErr != nil {
		b.Fatalf("bench payload: %v %v", err, env.DecodeErr)
	}
	if n := len(env.Entry[0].Changes[0].Value.Messages) + len(env.Entry[0].Changes[1].Value.Statuses); n != 20 {
		b.Fatalf("bench payload has %d items", n)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := webhook.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTranslate is Parse plus the translation into domain types: what the webhook
// worker does per body (the type objects, keyword texts and status extras it derives were
// derived per event by application/inbound before).
func BenchmarkTranslate(b *testing.B) {
	raw := benchPayload()
	n, err := webhook.Translate(raw)
	if err != nil || len(n.Changes[0].Messages)+len(n.Changes[1].Statuses) != 20 {
		b.Fatalf("bench payload: %v", err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := webhook.Translate(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifySignature(b *testing.B) {
	raw := benchPayload()
	secret := []byte("0123456789abcdef0123456789abcdef")
	header := webhook.Sign(secret, raw)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if !webhook.VerifySignature(secret, raw, header) {
			b.Fatal("rejected")
		}
	}
}
