// Package onboarding connects a workspace's WhatsApp number: the token is sealed, the
// number recorded as connecting, and jobs subscribe the app to the WABA, register the
// number and sync its metadata, each retried, until it is connected or failed with a reason.
// When a number becomes connected, a sync of its WABA's templates is queued with it.
package onboarding

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Graph is the part of Meta's Graph API onboarding uses. Failures are *domain.MetaError.
type Graph interface {
	ExchangeCode(ctx context.Context, code string) (token string, err error)
	WABAIDs(ctx context.Context, token string) ([]string, error)
	PhoneNumberIDs(ctx context.Context, token, wabaID string) ([]string, error)
	SubscribeApp(ctx context.Context, token, wabaID string) error
	RegisterPhoneNumber(ctx context.Context, token, phoneNumberID, pin string) error
	PhoneMetadata(ctx context.Context, token, phoneNumberID string) (domain.PhoneMetadata, error)
}

// Vault seals and opens secrets (envelope encryption behind it).
type Vault interface {
	Seal(ctx context.Context, plaintext []byte, b domain.SecretBinding) (domain.Sealed, error)
	Open(ctx context.Context, s domain.Sealed, b domain.SecretBinding) ([]byte, error)
}

// Store keeps phone numbers.
type Store interface {
	// Create inserts p; a phone_number_id already connected anywhere is KindConflict.
	Create(ctx context.Context, p domain.PhoneNumber) error
	// ByPhoneNumberID finds a number by Meta's id in any workspace (KindNotFound if none).
	ByPhoneNumberID(ctx context.Context, phoneNumberID string) (domain.PhoneNumber, error)
	Get(ctx context.Context, workspaceID, id domain.ID, forUpdate bool) (domain.PhoneNumber, error)
	// ListPage returns up to limit numbers of the workspace, oldest first (by id), with ids
	// above after (from the oldest when after is the zero id).
	ListPage(ctx context.Context, workspaceID, after domain.ID, limit int) ([]domain.PhoneNumber, error)
	Update(ctx context.Context, p domain.PhoneNumber) error
	// Connected lists every connected number (workspace id, id) for the periodic sync.
	Connected(ctx context.Context) ([][2]domain.ID, error)
}

// Step is one onboarding job.
type Step string

const (
	StepSubscribe Step = "subscribe" // subscribe the app to the WABA, then register
	StepRegister  Step = "register"  // register the number, then sync
	StepSync      Step = "sync"      // sync metadata; a connecting number becomes connected
)

// Jobs enqueues onboarding steps, and the sync of a connected WABA's templates, in the
// current transaction.
type Jobs interface {
	EnqueueStep(ctx context.Context, workspaceID, numberID domain.ID, step Step, actor domain.Caller) error
	EnqueueTemplateSync(ctx context.Context, workspaceID domain.ID, wabaID string) error
}

// Repos is what a transaction offers these use cases.
type Repos struct {
	Numbers Store
	Events  events.Log
	Jobs    Jobs
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Service is the onboarding use cases.
type Service struct {
	tx    TxRunner
	store Store
	graph Graph
	vault Vault
	authz authz.Authorizer
	now   func() time.Time
}

// NewService returns the onboarding use cases.
func NewService(tx TxRunner, store Store, graph Graph, vault Vault, a authz.Authorizer) *Service {
	return &Service{tx: tx, store: store, graph: graph, vault: vault, authz: a, now: time.Now}
}

// ConnectInput is either an Embedded Signup code, or a token with the ids it may use.
type ConnectInput struct {
	Code          string
	AccessToken   string
	WABAID        string
	PhoneNumberID string
	PIN           string
}

var (
	pinPattern = regexp.MustCompile(`^[0-9]{6}$`)
	idPattern  = regexp.MustCompile(`^[0-9]{1,32}$`)
)

func validateConnect(in ConnectInput) error {
	var v domain.Validator
	if in.Code != "" {
		v.Check(len(in.Code) <= 4096, "code", "is too long")
		v.Check(in.AccessToken == "", "access_token", "give either code or access_token, not both")
		v.Check(in.PhoneNumberID == "" || idPattern.MatchString(in.PhoneNumberID), "phone_number_id", "must be Meta's numeric id")
	} else {
		v.Check(in.AccessToken != "", "access_token", "is required without a code")
		v.Check(len(in.AccessToken) <= 4096, "access_token", "is too long")
		v.Check(idPattern.MatchString(in.WABAID), "waba_id", "must be Meta's numeric id")
		v.Check(idPattern.MatchString(in.PhoneNumberID), "phone_number_id", "must be Meta's numeric id")
	}
	v.Check(in.PIN == "" || pinPattern.MatchString(in.PIN), "pin", "must be 6 digits")
	return v.Err()
}

// Connect starts connecting a number: 202 with status connecting; jobs do the rest.
func (s *Service) Connect(ctx context.Context, c domain.Caller, in ConnectInput) (domain.PhoneNumber, error) {
	if err := authz.Require(s.authz, c, access.WhatsAppConnect); err != nil {
		return domain.PhoneNumber{}, err
	}
	if err := validateConnect(in); err != nil {
		return domain.PhoneNumber{}, err
	}
	token, wabaID, phoneID := in.AccessToken, in.WABAID, in.PhoneNumberID
	if in.Code != "" {
		var err error
		if token, wabaID, phoneID, err = s.discover(ctx, in.Code, in.PhoneNumberID); err != nil {
			return domain.PhoneNumber{}, err
		}
	}
	if existing, err := s.store.ByPhoneNumberID(ctx, phoneID); err == nil && existing.WorkspaceID != c.WorkspaceID {
		return domain.PhoneNumber{}, domain.Errorf(domain.KindConflict, "that phone number is connected to another workspace")
	} else if err != nil && !domain.IsKind(err, domain.KindNotFound) {
		return domain.PhoneNumber{}, err
	}

	pin := in.PIN
	if pin == "" {
		pin = randomPIN()
	}
	now := s.now().UTC()
	p := domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: c.WorkspaceID, PhoneNumberID: phoneID, WABAID: wabaID,
		Status: domain.NumberConnecting, CreatedAt: now, UpdatedAt: now}
	var err error
	if p.Token, err = s.vault.Seal(ctx, []byte(token), binding(p, domain.PurposeAccessToken)); err != nil {
		return domain.PhoneNumber{}, fmt.Errorf("seal token: %w", err)
	}
	sealedPIN, err := s.vault.Seal(ctx, []byte(pin), binding(p, domain.PurposeRegisterPIN))
	if err != nil {
		return domain.PhoneNumber{}, fmt.Errorf("seal pin: %w", err)
	}
	p.PIN = &sealedPIN

	err = s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		old, err := r.Numbers.ByPhoneNumberID(ctx, phoneID)
		switch {
		case err == nil && old.WorkspaceID == c.WorkspaceID:
			// Reconnecting the same number: keep its id, start the steps again with the new
			// token (sealed above: the binding names the workspace and number, not the row).
			p.ID, p.CreatedAt = old.ID, old.CreatedAt
			err = r.Numbers.Update(ctx, p)
		case err == nil:
			return domain.Errorf(domain.KindConflict, "that phone number is connected to another workspace")
		case domain.IsKind(err, domain.KindNotFound):
			err = r.Numbers.Create(ctx, p)
		}
		if err != nil {
			return err
		}
		return r.Jobs.EnqueueStep(ctx, p.WorkspaceID, p.ID, StepSubscribe, c)
	})
	return p, err
}

// discover exchanges an Embedded Signup code and finds the WABA and number it grants.
func (s *Service) discover(ctx context.Context, code, wantPhone string) (token, wabaID, phoneID string, err error) {
	fail := func(field, msg string, cause error) error {
		var me *domain.MetaError
		if errors.As(cause, &me) && (me.Class == domain.MetaRetry || me.Class == domain.MetaThrottled) {
			return domain.Errorf(domain.KindUnavailable, "Meta is not answering; try again")
		}
		if cause != nil && me == nil {
			return cause
		}
		return &domain.Error{Kind: domain.KindValidation, Message: msg, Fields: []domain.FieldError{{Field: field, Message: msg}}}
	}
	if token, err = s.graph.ExchangeCode(ctx, code); err != nil {
		return "", "", "", fail("code", "Meta refused the code (expired or already used)", err)
	}
	wabas, err := s.graph.WABAIDs(ctx, token)
	if err != nil || len(wabas) == 0 {
		return "", "", "", fail("code", "the signup granted no WhatsApp Business Account", err)
	}
	for _, w := range wabas {
		ids, err := s.graph.PhoneNumberIDs(ctx, token, w)
		if err != nil {
			return "", "", "", fail("code", "could not list the account's phone numbers", err)
		}
		for _, id := range ids {
			if wantPhone == "" || id == wantPhone {
				return token, w, id, nil
			}
		}
	}
	return "", "", "", fail("phone_number_id", "the signup granted no such phone number", nil)
}

func binding(p domain.PhoneNumber, purpose string) domain.SecretBinding {
	return domain.SecretBinding{WorkspaceID: p.WorkspaceID, Purpose: purpose, PhoneNumberID: p.PhoneNumberID}
}

func randomPIN() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return fmt.Sprintf("%06d", n.Int64())
}

// List pages through the workspace's numbers, oldest first.
func (s *Service) List(ctx context.Context, c domain.Caller, limit int, cursor domain.ID) (domain.Page[domain.PhoneNumber], error) {
	if err := authz.Require(s.authz, c, access.WhatsAppRead); err != nil {
		return domain.Page[domain.PhoneNumber]{}, err
	}
	return domain.ReadPage(limit, func(n int) ([]domain.PhoneNumber, error) { return s.store.ListPage(ctx, c.WorkspaceID, cursor, n) },
		func(p domain.PhoneNumber) domain.ID { return p.ID })
}

// Get returns one number.
func (s *Service) Get(ctx context.Context, c domain.Caller, id domain.ID) (domain.PhoneNumber, error) {
	if err := authz.Require(s.authz, c, access.WhatsAppRead); err != nil {
		return domain.PhoneNumber{}, err
	}
	return s.store.Get(ctx, c.WorkspaceID, id, false)
}

// RequestSync queues a metadata sync of one number.
func (s *Service) RequestSync(ctx context.Context, c domain.Caller, id domain.ID) error {
	if err := authz.Require(s.authz, c, access.WhatsAppSync); err != nil {
		return err
	}
	return s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if _, err := r.Numbers.Get(ctx, c.WorkspaceID, id, false); err != nil {
			return err
		}
		return r.Jobs.EnqueueStep(ctx, c.WorkspaceID, id, StepSync, c)
	})
}

// SyncAll queues a sync of every connected number (the periodic job).
func (s *Service) SyncAll(ctx context.Context) (int, error) {
	ids, err := s.store.Connected(ctx)
	if err != nil {
		return 0, err
	}
	system := domain.Caller{Type: domain.ActorSystem}
	for _, id := range ids {
		if err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
			return r.Jobs.EnqueueStep(ctx, id[0], id[1], StepSync, system)
		}); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// ErrGaveUp marks a step that failed for good: the number is marked and the job must not retry.
var ErrGaveUp = errors.New("onboarding step failed for good")

// RunStep performs one step. A retryable Graph failure is returned as is (the job retries;
// a *domain.MetaError with MetaThrottled asks for a wait); a final one marks the number and
// returns an error wrapping ErrGaveUp. lastAttempt turns a retryable failure into a final one.
func (s *Service) RunStep(ctx context.Context, ws, id domain.ID, step Step, actor domain.Caller, lastAttempt bool) error {
	p, err := s.store.Get(ctx, ws, id, false)
	if err != nil {
		if domain.IsKind(err, domain.KindNotFound) {
			return fmt.Errorf("%w: number gone", ErrGaveUp)
		}
		return err
	}
	if p.Status == domain.NumberFailed && step != StepSync {
		return nil // a later connect restarts the steps
	}
	token, err := s.vault.Open(ctx, p.Token, binding(p, domain.PurposeAccessToken))
	if err != nil {
		return fmt.Errorf("open token: %w", err)
	}
	next := Step("")
	switch step {
	case StepSubscribe:
		if !p.WebhookSubscribed {
			err = s.graph.SubscribeApp(ctx, string(token), p.WABAID)
		}
		next = StepRegister
	case StepRegister:
		if !p.Registered {
			var pin []byte
			if p.PIN == nil {
				return fmt.Errorf("%w: no register PIN", ErrGaveUp)
			}
			if pin, err = s.vault.Open(ctx, *p.PIN, binding(p, domain.PurposeRegisterPIN)); err != nil {
				return fmt.Errorf("open pin: %w", err)
			}
			err = s.graph.RegisterPhoneNumber(ctx, string(token), p.PhoneNumberID, string(pin))
		}
		next = StepSync
	case StepSync:
		var md domain.PhoneMetadata
		if md, err = s.graph.PhoneMetadata(ctx, string(token), p.PhoneNumberID); err == nil {
			return s.applySync(ctx, ws, id, md, actor)
		}
	default:
		return fmt.Errorf("%w: unknown step %q", ErrGaveUp, step)
	}
	if err != nil {
		return s.fail(ctx, ws, id, step, actor, err, lastAttempt)
	}
	return s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		p, err := r.Numbers.Get(ctx, ws, id, true)
		if err != nil {
			return err
		}
		switch step {
		case StepSubscribe:
			p.WebhookSubscribed = true
		case StepRegister:
			p.Registered = true
		}
		p.UpdatedAt = s.now().UTC()
		if err := r.Numbers.Update(ctx, p); err != nil {
			return err
		}
		return r.Jobs.EnqueueStep(ctx, ws, id, next, actor)
	})
}

func (s *Service) applySync(ctx context.Context, ws, id domain.ID, md domain.PhoneMetadata, actor domain.Caller) error {
	return s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		p, err := r.Numbers.Get(ctx, ws, id, true)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		p.DisplayPhoneNumber, p.VerifiedName = md.DisplayPhoneNumber, md.VerifiedName
		p.QualityRating, p.MessagingLimitTier = md.QualityRating, md.MessagingLimitTier
		p.ThroughputLevel, p.NameStatus = md.ThroughputLevel, md.NameStatus
		p.LastSyncedAt, p.UpdatedAt = &now, now
		wasConnecting := p.Status == domain.NumberConnecting
		wasConnected := p.Status == domain.NumberConnected
		if wasConnecting && p.WebhookSubscribed && p.Registered {
			p.Status, p.FailureReason = domain.NumberConnected, ""
		}
		if p.Status == domain.NumberNeedsReconnect {
			p.Status, p.FailureReason = domain.NumberConnected, ""
		}
		if err := r.Numbers.Update(ctx, p); err != nil {
			return err
		}
		if !wasConnected && p.Status == domain.NumberConnected {
			// A number (re)connected: its WABA's templates are read from Meta.
			if err := r.Jobs.EnqueueTemplateSync(ctx, ws, p.WABAID); err != nil {
				return err
			}
		}
		if wasConnecting && p.Status == domain.NumberConnected {
			return r.Events.Append(ctx, domain.Occurred(auditCaller(actor, ws), now, domain.WhatsAppConnected{NumberID: id,
				PhoneNumberID: p.PhoneNumberID, WABAID: p.WABAID, DisplayPhoneNumber: p.DisplayPhoneNumber}))
		}
		return nil
	})
}

// fail decides what a Graph failure means for the number.
func (s *Service) fail(ctx context.Context, ws, id domain.ID, step Step, actor domain.Caller, cause error, lastAttempt bool) error {
	var me *domain.MetaError
	isMeta := errors.As(cause, &me)
	final := lastAttempt || (isMeta && (me.Class == domain.MetaFinal || me.Class == domain.MetaAuth || me.Class == domain.MetaStop))
	if !final {
		return cause
	}
	reason := describe(step, cause)
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		p, err := r.Numbers.Get(ctx, ws, id, true)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		p.UpdatedAt, p.FailureReason = now, reason
		if p.Status == domain.NumberConnecting {
			p.Status = domain.NumberFailed
			if err := r.Numbers.Update(ctx, p); err != nil {
				return err
			}
			return r.Events.Append(ctx, domain.Occurred(auditCaller(actor, ws), now, domain.WhatsAppConnectFailed{NumberID: id,
				PhoneNumberID: p.PhoneNumberID, Step: string(step), Reason: reason}))
		}
		if isMeta && me.Class == domain.MetaAuth {
			p.Status = domain.NumberNeedsReconnect
		}
		return r.Numbers.Update(ctx, p)
	})
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrGaveUp, reason)
}

func describe(step Step, err error) string {
	var me *domain.MetaError
	what := map[Step]string{StepSubscribe: "subscribing the app to the WABA", StepRegister: "registering the number", StepSync: "reading the number's details"}[step]
	if errors.As(err, &me) {
		msg := strings.TrimSpace(me.Title)
		if me.Detail != "" {
			msg += ": " + me.Detail
		}
		if me.Class == domain.MetaAuth {
			return fmt.Sprintf("Meta rejected the access token while %s (code %d); reconnect the number", what, me.Code)
		}
		return fmt.Sprintf("Meta refused %s (code %d): %s", what, me.Code, msg)
	}
	return fmt.Sprintf("%s kept failing: %v", what, err)
}

func auditCaller(actor domain.Caller, ws domain.ID) domain.Caller {
	actor.WorkspaceID = ws
	if actor.Type == "" {
		actor.Type = domain.ActorSystem
	}
	return actor
}
