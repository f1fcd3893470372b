// Package templates holds a workspace's message templates: it creates them at Meta (after
// checking them as Meta would), lists, reads and deletes them, and follows what Meta says
// of them afterwards: the status, quality and category webhooks (handed over by inbound in
// its transaction) and syncs that read every template of a WABA from Meta (when a number
// connects, on request, and periodically). The Catalogue serves the send path.
//
// Meta does not promise the order of its webhooks: a report older than the last one
// applied to a field is ignored (domain.Template.Apply). A sync's listing has no event
// time; the time it was read stands for it. A sync creates locally the templates Meta has
// that are not local yet (template.created) and removes the local ones of that WABA Meta no
// longer lists (template.deleted), both by the system: what Meta does not have cannot be
// sent. A template created after the listing was read is never removed by it.
package templates

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Deps are what the use cases need.
type Deps struct {
	Tx      TxRunner
	Store   Store // outside transactions
	Numbers Numbers
	Graph   Graph
	Vault   Vault
	Authz   authz.Authorizer
	// Catalogue is invalidated after every change commits (nil: none to invalidate).
	Catalogue *Catalogue
	Clock     domain.Clock
}

// Service is the template use cases.
type Service struct {
	d   Deps
	now domain.Clock
}

// NewService returns the template use cases.
func NewService(d Deps) *Service {
	now := d.Clock
	if now == nil {
		now = time.Now
	}
	return &Service{d: d, now: now}
}

var system = domain.Caller{Type: domain.ActorSystem}

// CreateInput is a template to submit; WABAID may be empty when the workspace has one.
type CreateInput struct {
	WABAID string
	domain.TemplateDraft
}

// Create checks the template as Meta would, submits it to Meta and stores it as Meta
// answered (usually PENDING). Meta's refusal is KindValidation with Meta's words.
func (s *Service) Create(ctx context.Context, c domain.Caller, in CreateInput) (domain.Template, error) {
	if err := authz.Require(s.d.Authz, c, access.TemplatesManage); err != nil {
		return domain.Template{}, err
	}
	draft := normalize(in.TemplateDraft)
	wabaID, werr := s.resolveWABA(ctx, c.WorkspaceID, strings.TrimSpace(in.WABAID))
	if err := validate(draft, werr); err != nil {
		return domain.Template{}, err
	}
	if _, err := s.d.Store.ByName(ctx, c.WorkspaceID, wabaID, draft.Name, draft.Language, false); err == nil {
		return domain.Template{}, conflict()
	} else if !domain.IsKind(err, domain.KindNotFound) {
		return domain.Template{}, err
	}
	token, err := s.token(ctx, c.WorkspaceID, wabaID)
	if err != nil {
		return domain.Template{}, err
	}
	if draft.ParameterFormat == "" {
		draft.ParameterFormat = domain.ParametersPositional
	}
	answer, err := s.d.Graph.CreateTemplate(ctx, token, wabaID, draft)
	if err != nil {
		return domain.Template{}, refusal("create the template", err)
	}
	now := s.now().UTC()
	t := domain.Template{ID: domain.NewID(), WorkspaceID: c.WorkspaceID, WABAID: wabaID, MetaTemplateID: answer.MetaTemplateID,
		Name: draft.Name, Language: draft.Language, Category: orDefault(answer.Category, draft.Category),
		Status: orDefault(answer.Status, domain.TemplatePending), ParameterFormat: draft.ParameterFormat,
		Components: draft.Components, CreatedAt: now, UpdatedAt: now}
	// No report time yet: Meta's answer has none, and the review's webhook, timed in whole
	// seconds, may carry the very second of this answer.
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if err := r.Templates.Insert(ctx, t); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.TemplateCreated{TemplateID: t.ID, WABAID: wabaID,
			Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status}))
	})
	if domain.IsKind(err, domain.KindConflict) {
		// Meta's review webhook may have queued a sync that stored this very template first.
		if got, rerr := s.d.Store.ByName(ctx, c.WorkspaceID, wabaID, t.Name, t.Language, false); rerr == nil && got.MetaTemplateID == t.MetaTemplateID {
			return got, nil
		}
	}
	if err != nil {
		return domain.Template{}, err
	}
	s.invalidate(c.WorkspaceID, wabaID)
	return t, nil
}

func conflict() error {
	return domain.Errorf(domain.KindConflict, "a template with that name and language exists on that WABA")
}

// resolveWABA returns the WABA a template goes to: the one named, which must be one of
// the workspace's, or the workspace's only one. A problem is a field error on waba_id.
func (s *Service) resolveWABA(ctx context.Context, ws domain.ID, wabaID string) (string, error) {
	wabas, err := s.d.Numbers.WABAs(ctx, ws)
	if err != nil {
		return "", err
	}
	field := func(msg string) error {
		return &domain.Error{Kind: domain.KindValidation, Message: "the request has invalid fields",
			Fields: []domain.FieldError{{Field: "waba_id", Message: msg}}}
	}
	switch {
	case wabaID != "":
		for _, w := range wabas {
			if w == wabaID {
				return w, nil
			}
		}
		return "", field("is not a WABA of a connected number of this workspace")
	case len(wabas) == 1:
		return wabas[0], nil
	case len(wabas) == 0:
		return "", field("the workspace has no connected number; connect one first")
	}
	return "", field("is required: the workspace has several WABAs")
}

// validate joins the draft's field errors with the WABA's.
func validate(d domain.TemplateDraft, wabaErr error) error {
	err := validateDraft(d)
	if wabaErr == nil {
		return err
	}
	var we *domain.Error
	if !errors.As(wabaErr, &we) || we.Kind != domain.KindValidation {
		return wabaErr
	}
	var de *domain.Error
	if errors.As(err, &de) {
		we.Fields = append(we.Fields, de.Fields...)
	}
	return we
}

// refusal turns Meta's failure into what the caller is told: Meta's refusal in its own
// words (422), a token Meta no longer accepts, or Meta not answering (503).
func refusal(what string, err error) error {
	var me *domain.MetaError
	if !errors.As(err, &me) {
		return err
	}
	switch me.Class {
	case domain.MetaRetry, domain.MetaThrottled:
		return &domain.Error{Kind: domain.KindUnavailable, Message: "Meta is not answering; try again", RetryAfter: me.RetryAfter}
	case domain.MetaAuth:
		return domain.Errorf(domain.KindNotConnected, "Meta rejected the number's access token; reconnect the number")
	}
	words := strings.TrimSpace(me.Title)
	if d := strings.TrimSpace(me.Detail); d != "" && d != words {
		if words != "" {
			words += ": "
		}
		words += d
	}
	return domain.Errorf(domain.KindValidation, "Meta refused to %s (code %d): %s", what, me.Code, words)
}

// token opens the access token of a connected number of the WABA.
func (s *Service) token(ctx context.Context, ws domain.ID, wabaID string) (string, error) {
	p, err := s.d.Numbers.ConnectedNumber(ctx, ws, wabaID)
	if err != nil {
		return "", err
	}
	b, err := s.d.Vault.Open(ctx, p.Token, domain.SecretBinding{WorkspaceID: p.WorkspaceID,
		Purpose: domain.PurposeAccessToken, PhoneNumberID: p.PhoneNumberID})
	if err != nil {
		return "", fmt.Errorf("open token: %w", err)
	}
	return string(b), nil
}

func (s *Service) invalidate(ws domain.ID, wabaID string) {
	if s.d.Catalogue != nil {
		s.d.Catalogue.Invalidate(ws, wabaID)
	}
}

// List pages through the workspace's templates, newest first.
func (s *Service) List(ctx context.Context, c domain.Caller, f Filter, limit int) (domain.Page[domain.Template], error) {
	if err := authz.Require(s.d.Authz, c, access.TemplatesRead); err != nil {
		return domain.Page[domain.Template]{}, err
	}
	f.Status, f.Category = strings.ToUpper(strings.TrimSpace(f.Status)), strings.ToUpper(strings.TrimSpace(f.Category))
	f.Name, f.Language, f.WABAID = strings.TrimSpace(f.Name), strings.TrimSpace(f.Language), strings.TrimSpace(f.WABAID)
	return domain.ReadPage(limit, func(n int) ([]domain.Template, error) { return s.d.Store.List(ctx, c.WorkspaceID, f, n) },
		func(t domain.Template) domain.ID { return t.ID })
}

// Get returns one template.
func (s *Service) Get(ctx context.Context, c domain.Caller, id domain.ID) (domain.Template, error) {
	if err := authz.Require(s.d.Authz, c, access.TemplatesRead); err != nil {
		return domain.Template{}, err
	}
	return s.d.Store.Get(ctx, c.WorkspaceID, id, false)
}

// Delete deletes the template at Meta, then here.
func (s *Service) Delete(ctx context.Context, c domain.Caller, id domain.ID) error {
	if err := authz.Require(s.d.Authz, c, access.TemplatesManage); err != nil {
		return err
	}
	t, err := s.d.Store.Get(ctx, c.WorkspaceID, id, false)
	if err != nil {
		return err
	}
	if t.MetaTemplateID == "" {
		// Meta deletes by name alone every language of the name: without Meta's id of this
		// one, that is not what was asked.
		return domain.Errorf(domain.KindConflict, "Meta's id of this template is not known yet; sync the templates, then delete it")
	}
	token, err := s.token(ctx, c.WorkspaceID, t.WABAID)
	if err != nil {
		return err
	}
	if err := s.d.Graph.DeleteTemplate(ctx, token, t.WABAID, t.Name, t.MetaTemplateID); err != nil {
		return refusal("delete the template", err)
	}
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if _, err := r.Templates.Get(ctx, c.WorkspaceID, id, true); err != nil {
			return err // deleted meanwhile (a sync, a second request)
		}
		if err := r.Templates.Delete(ctx, c.WorkspaceID, id); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, s.now().UTC(), domain.TemplateDeleted{TemplateID: id,
			WABAID: t.WABAID, Name: t.Name, Language: t.Language}))
	})
	if err != nil {
		return err
	}
	s.invalidate(c.WorkspaceID, t.WABAID)
	return nil
}

// RequestSync queues a sync of every WABA of the workspace.
func (s *Service) RequestSync(ctx context.Context, c domain.Caller) error {
	if err := authz.Require(s.d.Authz, c, access.TemplatesManage); err != nil {
		return err
	}
	wabas, err := s.d.Numbers.WABAs(ctx, c.WorkspaceID)
	if err != nil {
		return err
	}
	return s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		for _, w := range wabas {
			if err := r.Jobs.EnqueueTemplateSync(ctx, c.WorkspaceID, w); err != nil {
				return err
			}
		}
		return nil
	})
}

// SyncAll queues a sync of every WABA with a connected number (the periodic job).
func (s *Service) SyncAll(ctx context.Context) (int, error) {
	all, err := s.d.Numbers.AllWABAs(ctx)
	if err != nil {
		return 0, err
	}
	for _, w := range all {
		if err := s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
			return r.Jobs.EnqueueTemplateSync(ctx, w.WorkspaceID, w.WABAID)
		}); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}

// ErrNoNumber marks a sync of a WABA the workspace no longer has a connected number of:
// there is nothing to retry.
var ErrNoNumber = errors.New("templates: no connected number of the WABA")

// SyncWABA reads every template of the WABA from Meta and brings the workspace's
// templates of that WABA in line (see the package comment). A Graph failure is returned as
// the *domain.MetaError it is (the job decides about retrying).
func (s *Service) SyncWABA(ctx context.Context, ws domain.ID, wabaID string) error {
	token, err := s.token(ctx, ws, wabaID)
	if domain.IsKind(err, domain.KindNotConnected) {
		return fmt.Errorf("%w: %v", ErrNoNumber, err)
	}
	if err != nil {
		return err
	}
	readAt := s.now().UTC()
	listed, err := s.d.Graph.ListTemplates(ctx, token, wabaID)
	if err != nil {
		return err
	}
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		local, err := r.Templates.ListWABA(ctx, ws, wabaID, true)
		if err != nil {
			return err
		}
		byKey := make(map[[2]string]domain.Template, len(local))
		for _, t := range local {
			byKey[[2]string{t.Name, t.Language}] = t
		}
		seen := make(map[[2]string]bool, len(listed))
		for _, m := range listed {
			k := [2]string{m.Name, m.Language}
			if m.Name == "" || m.Language == "" || seen[k] {
				continue
			}
			seen[k] = true
			if err := s.syncOne(ctx, r, ws, wabaID, readAt, byKey, m); err != nil {
				return err
			}
		}
		for k, t := range byKey {
			if seen[k] || !t.CreatedAt.Before(readAt) {
				continue
			}
			if err := r.Templates.Delete(ctx, ws, t.ID); err != nil {
				return err
			}
			if err := r.Events.Append(ctx, domain.Occurred(actorIn(ws), readAt, domain.TemplateDeleted{TemplateID: t.ID,
				WABAID: wabaID, Name: t.Name, Language: t.Language})); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.invalidate(ws, wabaID)
	return nil
}

// syncOne applies one listed template: created when not local, else reported.
func (s *Service) syncOne(ctx context.Context, r Repos, ws domain.ID, wabaID string, readAt time.Time,
	local map[[2]string]domain.Template, m domain.Template) error {
	reason := m.RejectedReason
	// Meta times its webhooks in whole seconds: a webhook of the second the list was read
	// applies over it (the later report wins a tie).
	u := domain.TemplateReport{At: readAt.Truncate(time.Second), MetaTemplateID: m.MetaTemplateID, Status: m.Status, RejectedReason: &reason,
		Quality: m.QualityRating, Category: m.Category, ParameterFormat: m.ParameterFormat, Components: m.Components}
	if u.Components == nil {
		u.Components = []domain.TemplateComponent{}
	}
	t, ok := local[[2]string{m.Name, m.Language}]
	if ok {
		return s.apply(ctx, r, ws, t, u, readAt)
	}
	t = domain.Template{ID: domain.NewID(), WorkspaceID: ws, WABAID: wabaID, Name: m.Name, Language: m.Language,
		ParameterFormat: domain.ParametersPositional, Components: []domain.TemplateComponent{}, CreatedAt: readAt, UpdatedAt: readAt}
	t, _ = t.Apply(u)
	// A template created through the API since the list was loaded makes this insert a
	// conflict: the transaction fails and the job's retry finds it.
	if err := r.Templates.Insert(ctx, t); err != nil {
		return err
	}
	return r.Events.Append(ctx, domain.Occurred(actorIn(ws), readAt, domain.TemplateCreated{TemplateID: t.ID, WABAID: wabaID,
		Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status}))
}

// apply writes a report to a stored template and records what changed, as of at.
func (s *Service) apply(ctx context.Context, r Repos, ws domain.ID, t domain.Template, u domain.TemplateReport, at time.Time) error {
	next, ev := t.Apply(u)
	if equalApplied(t, next) {
		return nil
	}
	if err := r.Templates.Update(ctx, next); err != nil {
		return err
	}
	if ev == nil {
		return nil
	}
	return r.Events.Append(ctx, domain.Occurred(actorIn(ws), at, *ev))
}

// equalApplied reports whether Apply left everything stored as it was.
func equalApplied(a, b domain.Template) bool { return reflect.DeepEqual(a, b) }

func actorIn(ws domain.ID) domain.Caller {
	c := system
	c.WorkspaceID = ws
	return c
}

// InTx returns the handler of Meta's template webhooks bound to a transaction someone
// else runs (inbound's), whose repositories r are.
func (s *Service) InTx(r Repos) *Reports { return &Reports{s: s, r: r} }

// Reports applies Meta's template webhooks inside the caller's transaction. The caller
// invalidates the Catalogue for the WABA once it commits.
type Reports struct {
	s *Service
	r Repos
}

// Report applies what Meta said of the template of the WABA with that name and language.
// A template not known here yet (made in Meta's tools) is read by a sync of the WABA,
// queued in the same transaction.
func (p *Reports) Report(ctx context.Context, ws domain.ID, wabaID, name, language string, u domain.TemplateReport) error {
	if u.At.IsZero() {
		u.At = p.s.now().UTC()
	}
	t, err := p.r.Templates.ByName(ctx, ws, wabaID, name, language, true)
	if domain.IsKind(err, domain.KindNotFound) {
		return p.r.Jobs.EnqueueTemplateSync(ctx, ws, wabaID)
	}
	if err != nil {
		return err
	}
	return p.s.apply(ctx, p.r, ws, t, u, p.s.now().UTC())
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
