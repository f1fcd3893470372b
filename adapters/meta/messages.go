package meta

import (
	"context"
	"fmt"
)

// SendResult is what Meta answers to an accepted send. Acceptance is not delivery: the
// outcome arrives later in status webhooks (and many failures only there).
type SendResult struct {
	WAMID string
	// WaID is the recipient's WhatsApp id as Meta resolved it (digits, no "+"); empty when
	// the send targeted a BSUID Meta did not resolve to a number.
	WaID string
	// UserID is the recipient's business-scoped user id, when Meta reports one.
	UserID string
	// MessageStatus is "accepted", or for templates possibly "held_for_quality_assessment"
	// (pacing). Empty when Meta omits it.
	MessageStatus string
}

type sendResponse struct {
	Contacts []struct {
		Input  string `json:"input"`
		WaID   string `json:"wa_id"`
		UserID string `json:"user_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
}

// SendMessage posts payload (the Graph API message object, e.g. a map or a struct with
// messaging_product, to, type, ...) to POST /{phone-number-id}/messages. The payload is sent
// as given: the caller sets messaging_product "whatsapp".
func (c *Client) SendMessage(ctx context.Context, token, phoneNumberID string, payload any) (SendResult, error) {
	const op = "send message"
	var out sendResponse
	if err := c.postJSON(ctx, op, token, c.endpoint(nil, phoneNumberID, "messages"), payload, &out); err != nil {
		return SendResult{}, err
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		return SendResult{}, fmt.Errorf("meta: %s: %w: no message id", op, ErrUnexpectedResponse)
	}
	res := SendResult{WAMID: out.Messages[0].ID, MessageStatus: out.Messages[0].MessageStatus}
	if len(out.Contacts) > 0 {
		res.WaID = out.Contacts[0].WaID
		res.UserID = out.Contacts[0].UserID
	}
	return res, nil
}

type markRead struct {
	MessagingProduct string           `json:"messaging_product"`
	Status           string           `json:"status"`
	MessageID        string           `json:"message_id"`
	TypingIndicator  *typingIndicator `json:"typing_indicator,omitempty"`
}

type typingIndicator struct {
	Type string `json:"type"`
}

// MarkRead marks an inbound message (and the ones before it) as read: the user sees blue
// ticks.
func (c *Client) MarkRead(ctx context.Context, token, phoneNumberID, wamid string) error {
	return c.markRead(ctx, "mark read", token, phoneNumberID, markRead{
		MessagingProduct: "whatsapp", Status: "read", MessageID: wamid,
	})
}

// ShowTyping marks the inbound message read and shows "typing…" to the user until we reply
// or 25 seconds pass.
func (c *Client) ShowTyping(ctx context.Context, token, phoneNumberID, wamid string) error {
	return c.markRead(ctx, "show typing", token, phoneNumberID, markRead{
		MessagingProduct: "whatsapp", Status: "read", MessageID: wamid,
		TypingIndicator: &typingIndicator{Type: "text"},
	})
}

func (c *Client) markRead(ctx context.Context, op, token, phoneNumberID string, body markRead) error {
	var out successResponse
	if err := c.postJSON(ctx, op, token, c.endpoint(nil, phoneNumberID, "messages"), body, &out); err != nil {
		return err
	}
	return out.check(op)
}
