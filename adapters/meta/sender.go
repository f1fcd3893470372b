package meta

import "context"

// Sender adapts the client to the messaging use case's Graph port: failures come back as
// *domain.MetaError carrying their class.
type Sender struct{ c *Client }

// NewSender wraps c.
func NewSender(c *Client) *Sender { return &Sender{c: c} }

// SendMessage posts payload to POST /{phone-number-id}/messages and returns the wamid.
func (s *Sender) SendMessage(ctx context.Context, token, phoneNumberID string, payload any) (string, error) {
	res, err := s.c.SendMessage(ctx, token, phoneNumberID, payload)
	if err != nil {
		return "", AsDomainError(err)
	}
	return res.WAMID, nil
}
