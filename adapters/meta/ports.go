package meta

import (
	"context"
	"errors"
	"io"

	"github.com/wabaplatform/waba/application/media"
	"github.com/wabaplatform/waba/domain"
)

// Graph adapts the client to the application's ports (onboarding.Graph, messaging.Graph,
// workspaces.Unsubscriber): domain types in and out, and every failure as a
// *domain.MetaError carrying its class.
type Graph struct{ c *Client }

// NewGraph wraps c.
func NewGraph(c *Client) *Graph { return &Graph{c: c} }

// AsDomainError converts a client error into a *domain.MetaError (nil stays nil).
func AsDomainError(err error) error {
	if err == nil {
		return nil
	}
	me := &domain.MetaError{Class: domainClass(Classify(err)), RetryAfter: RetryAfter(err), Title: err.Error(),
		MayHaveActed: MayHaveActed(err)}
	var ge *Error
	if errors.As(err, &ge) {
		me.Code, me.Title, me.Detail = ge.Code, ge.Message, ge.Details
	}
	return me
}

func domainClass(c Class) domain.MetaClass {
	switch c {
	case ClassThrottled:
		return domain.MetaThrottled
	case ClassFinal:
		return domain.MetaFinal
	case ClassAuth:
		return domain.MetaAuth
	case ClassStop:
		return domain.MetaStop
	}
	return domain.MetaRetry
}

// ExchangeCode implements onboarding.Graph.
func (g *Graph) ExchangeCode(ctx context.Context, code string) (string, error) {
	t, err := g.c.ExchangeCode(ctx, code)
	return t, AsDomainError(err)
}

// WABAIDs implements onboarding.Graph.
func (g *Graph) WABAIDs(ctx context.Context, token string) ([]string, error) {
	ids, err := g.c.DebugToken(ctx, token)
	return ids, AsDomainError(err)
}

// PhoneNumberIDs implements onboarding.Graph.
func (g *Graph) PhoneNumberIDs(ctx context.Context, token, wabaID string) ([]string, error) {
	nums, err := g.c.ListPhoneNumbers(ctx, token, wabaID)
	if err != nil {
		return nil, AsDomainError(err)
	}
	ids := make([]string, len(nums))
	for i, n := range nums {
		ids[i] = n.ID
	}
	return ids, nil
}

// SubscribeApp implements onboarding.Graph.
func (g *Graph) SubscribeApp(ctx context.Context, token, wabaID string) error {
	return AsDomainError(g.c.SubscribeApp(ctx, token, wabaID))
}

// UnsubscribeApp implements workspaces.Unsubscriber.
func (g *Graph) UnsubscribeApp(ctx context.Context, token, wabaID string) error {
	return AsDomainError(g.c.UnsubscribeApp(ctx, token, wabaID))
}

// RegisterPhoneNumber implements onboarding.Graph.
func (g *Graph) RegisterPhoneNumber(ctx context.Context, token, phoneNumberID, pin string) error {
	return AsDomainError(g.c.RegisterPhoneNumber(ctx, token, phoneNumberID, pin))
}

// PhoneMetadata implements onboarding.Graph.
func (g *Graph) PhoneMetadata(ctx context.Context, token, phoneNumberID string) (domain.PhoneMetadata, error) {
	p, err := g.c.GetPhoneNumber(ctx, token, phoneNumberID)
	if err != nil {
		return domain.PhoneMetadata{}, AsDomainError(err)
	}
	return domain.PhoneMetadata{DisplayPhoneNumber: p.DisplayPhoneNumber, VerifiedName: p.VerifiedName,
		QualityRating: p.QualityRating, MessagingLimitTier: p.MessagingLimitTier(),
		ThroughputLevel: p.Throughput.Level, NameStatus: p.NameStatus}, nil
}

// SendMessage implements messaging.Graph: posts m's Graph payload (MessagePayload) to
// /{phone-number-id}/messages and returns the wamid.
func (g *Graph) SendMessage(ctx context.Context, token, phoneNumberID string, m domain.OutboundMessage) (string, error) {
	res, err := g.c.SendMessage(ctx, token, phoneNumberID, MessagePayload(m))
	if err != nil {
		return "", AsDomainError(err)
	}
	return res.WAMID, nil
}

// MarkRead implements messaging.ReceiptGraph: marks the inbound message wamid (and the ones
// before it) read on phoneNumberID.
func (g *Graph) MarkRead(ctx context.Context, token, phoneNumberID, wamid string) error {
	return AsDomainError(g.c.MarkRead(ctx, token, phoneNumberID, wamid))
}

// UploadMedia implements media.Graph: streams r to /{phone-number-id}/media.
func (g *Graph) UploadMedia(ctx context.Context, token, phoneNumberID, mimeType, filename string, r io.Reader) (string, error) {
	id, err := g.c.UploadMedia(ctx, token, phoneNumberID, mimeType, filename, r)
	return id, AsDomainError(err)
}

// MediaInfo implements media.Graph: GET /{media-id}.
func (g *Graph) MediaInfo(ctx context.Context, token, mediaID string) (media.MetaMedia, error) {
	m, err := g.c.GetMedia(ctx, token, mediaID)
	if err != nil {
		return media.MetaMedia{}, AsDomainError(err)
	}
	return media.MetaMedia{URL: m.URL, MimeType: m.MimeType, SHA256: m.SHA256, Size: m.FileSize}, nil
}

// DownloadMedia implements media.Graph.
func (g *Graph) DownloadMedia(ctx context.Context, token, rawURL string) (io.ReadCloser, error) {
	rc, err := g.c.DownloadMedia(ctx, token, rawURL)
	return rc, AsDomainError(err)
}
