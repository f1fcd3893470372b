package automation

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Evaluator runs the automations on each inbound message: an event-log subscriber of
// message.received, so it acts after the inbound transaction committed, within the
// dispatcher's delay (a second), and a slow or failing evaluation holds back nothing but
// itself. Delivery is at least once; each automation's handling of a message is recorded
// (with its reply, in the reply's transaction), so a batch delivered again does not act
// twice.
type Evaluator struct{ s *Service }

// Evaluator returns the subscriber that runs the automations.
func (s *Service) Evaluator() *Evaluator { return &Evaluator{s: s} }

// Name implements events.Subscriber.
func (*Evaluator) Name() string { return "automation" }

// workspace is what a batch reads once per workspace.
type workspace struct {
	settings Settings
	rules    []*domain.Matcher
}

func (w workspace) active() bool {
	return len(w.rules) > 0 || w.settings.Welcome.Enabled || (w.settings.Away.Enabled && w.settings.Hours.Configured())
}

// Handle implements events.Subscriber. It is set-based per batch: each workspace's
// settings and rules are read once, and its messages with their contacts' state in one
// query; a message is read again on its own only when an earlier message of its contact in
// the batch led to a reply (the rails count replies). The rules' tags and attributes are
// written together, in one transaction per workspace (and before a reply is sent), and
// then the handlings that sent nothing are recorded together: at the end of the batch,
// and before an error returns.
func (e *Evaluator) Handle(ctx context.Context, batch []events.Logged) (err error) {
	cache := map[domain.ID]*workspace{}
	type item struct{ ws, msg domain.ID }
	var items []item
	ids := map[domain.ID][]domain.ID{} // by workspace
	for _, ev := range batch {
		// Only a customer's own message: our messages, statuses, echoes and other
		// automations' messages are never message.received by a contact.
		if ev.Kind != domain.EventMessageReceived || ev.MessageID == nil || ev.WorkspaceID.IsZero() ||
			ev.ActorType != domain.ActorContact {
			continue
		}
		w, ok := cache[ev.WorkspaceID]
		if !ok {
			var err error
			if w, err = e.s.workspace(ctx, ev.WorkspaceID); err != nil {
				return err
			}
			cache[ev.WorkspaceID] = w
		}
		if !w.active() {
			continue
		}
		items = append(items, item{ev.WorkspaceID, *ev.MessageID})
		ids[ev.WorkspaceID] = append(ids[ev.WorkspaceID], *ev.MessageID)
	}
	if len(items) == 0 {
		return nil
	}
	since := e.s.now().UTC().Add(-domain.AutoReplyWindow)
	triggers := make(map[domain.ID]Trigger, len(items))
	for ws, list := range ids {
		ts, err := e.s.d.Store.Triggers(ctx, ws, list, since)
		if err != nil {
			return err
		}
		for id, t := range ts {
			triggers[id] = t
		}
	}
	replied := map[domain.ID]bool{} // contacts a reply was tried for in this batch
	fx := &effects{}
	defer func() {
		if ferr := e.s.flush(ctx, fx); err == nil {
			err = ferr
		}
	}()
	for _, it := range items {
		tr, ok := triggers[it.msg]
		if ok && replied[tr.ContactID] {
			var err error
			if tr, ok, err = e.s.d.Store.Trigger(ctx, it.ws, it.msg, e.s.now().UTC().Add(-domain.AutoReplyWindow)); err != nil {
				return err
			}
		}
		if !ok {
			continue // the message is gone
		}
		out, tried, err := e.s.decide(ctx, it.ws, cache[it.ws], tr, fx)
		if err != nil {
			return err
		}
		if tried {
			replied[tr.ContactID] = true
		}
		if len(out.Skipped) > 0 {
			e.s.d.Log.Info("automation: replies skipped", "workspace_id", it.ws, "message_id", it.msg, "skipped", out.Skipped)
		}
	}
	return nil
}

func (s *Service) workspace(ctx context.Context, ws domain.ID) (*workspace, error) {
	st, err := s.d.Store.Settings(ctx, ws)
	if err != nil {
		return nil, err
	}
	ms, err := s.matchers(ctx, ws)
	if err != nil {
		return nil, err
	}
	return &workspace{settings: st, rules: ms}, nil
}

// Outcome is what the automations did with one inbound message (for tests and logs).
type Outcome struct {
	Rule    *domain.ID // the rule that matched
	Replied string     // the automation whose reply was queued ("" for none)
	Skipped map[string]domain.AutoSkip
}

// Evaluate runs the automations on one stored inbound message, as the evaluator does.
func (s *Service) Evaluate(ctx context.Context, ws, messageID domain.ID) (Outcome, error) {
	w, err := s.workspace(ctx, ws)
	if err != nil || !w.active() {
		return Outcome{}, err
	}
	return s.run(ctx, ws, w, messageID)
}

// system is the platform acting for an automation. It acts with a manager's permissions:
// what a rule may do is what its authors (managers and owners) may do by hand.
func system(ws domain.ID) domain.Caller {
	c := domain.SystemIn(ws)
	c.Role = access.Manager
	return c
}

// run applies, in this order: the first matching rule's actions but its reply (assign,
// tags, attributes), then one reply at most: the rule's when it has one, else the welcome
// message on the contact's first message, else the away message outside working hours. Every reply goes
// through the rails (domain.RefuseAutoReply) and the send use case.
func (s *Service) run(ctx context.Context, ws domain.ID, w *workspace, messageID domain.ID) (Outcome, error) {
	tr, ok, err := s.d.Store.Trigger(ctx, ws, messageID, s.now().UTC().Add(-domain.AutoReplyWindow))
	if err != nil || !ok {
		return Outcome{Skipped: map[string]domain.AutoSkip{}}, err
	}
	fx := &effects{}
	out, _, err := s.decide(ctx, ws, w, tr, fx)
	if ferr := s.flush(ctx, fx); err == nil {
		err = ferr
	}
	return out, err
}

// effects are what an evaluation writes together: the contacts' changes by workspace,
// then the handlings that sent nothing (recorded only once their changes are written, so
// a failure evaluates them again).
type effects struct {
	changes map[domain.ID][]contacts.Change
	records []domain.AutomaticReply
}

// flush writes fx and empties it.
func (s *Service) flush(ctx context.Context, fx *effects) error {
	if err := s.writeChanges(ctx, fx); err != nil {
		return err
	}
	if len(fx.records) == 0 {
		return nil
	}
	if err := s.d.Store.RecordAll(ctx, fx.records); err != nil {
		return err
	}
	fx.records = nil
	return nil
}

// writeChanges writes fx's changes and empties them.
func (s *Service) writeChanges(ctx context.Context, fx *effects) error {
	for ws, chs := range fx.changes {
		refused, err := s.d.Contacts.Apply(ctx, system(ws), chs)
		if err != nil {
			return err
		}
		for _, r := range refused {
			s.d.Log.Warn("automation: action refused", "workspace_id", ws, "contact_id", r.ContactID, "reason", r.Reason)
		}
		delete(fx.changes, ws)
	}
	return nil
}

// decide is run on a message read (tr); tried says a reply was handed to the send use case.
// The rule's changes to the contact and the handlings that send nothing are added to fx,
// whose changes are written before a reply is sent.
func (s *Service) decide(ctx context.Context, ws domain.ID, w *workspace, tr Trigger, fx *effects) (out Outcome, tried bool, err error) {
	out = Outcome{Skipped: map[string]domain.AutoSkip{}}
	now := s.now().UTC()
	if tr.Direction != domain.Inbound || !fromCustomer(tr.Type) {
		return out, false, nil
	}
	state := domain.AutoReplyState{OptedOut: tr.OptedOut, RepliesLastHour: tr.RepliesSince,
		WindowOpen: tr.WindowExpiresAt != nil && now.Before(*tr.WindowExpiresAt)}
	done := func(name string) bool { return slices.Contains(tr.Done, name) }

	type reply struct {
		name     string
		typ      string
		content  json.RawMessage
		template bool
	}
	var rep *reply
	ruleReplies := false // the matching rule has a reply of its own: no welcome or away then
	if text := textOf(tr.Type, tr.Content); text != "" {
		if m := domain.FirstMatch(w.rules, text); m != nil {
			id := m.Rule.ID
			out.Rule = &id
			name := id.String()
			ruleReplies = slices.ContainsFunc(m.Rule.Actions, func(a domain.Action) bool {
				return a.Type == domain.ActionReplyText || a.Type == domain.ActionReplyTemplate
			})
			if !done(name) {
				for _, a := range m.Rule.Actions {
					switch a.Type {
					case domain.ActionReplyText:
						rep = &reply{name: name, typ: messaging.TypeText, content: textContent(a.Text)}
					case domain.ActionReplyTemplate:
						rep = &reply{name: name, typ: messaging.TypeTemplate, content: a.Template, template: true}
					default:
						if err := s.act(ctx, ws, tr, a, fx); err != nil {
							return out, false, err
						}
					}
				}
				if rep == nil {
					s.record(ws, tr, name, fx)
				}
			}
		}
	}
	if !ruleReplies {
		st := w.settings
		switch {
		case st.Welcome.Enabled && !tr.WroteBefore && !done(domain.AutomationWelcome):
			rep = &reply{name: domain.AutomationWelcome, typ: messaging.TypeText, content: textContent(st.Welcome.Text)}
		case st.Away.Enabled && !done(domain.AutomationAway):
			if skip := domain.AwayDue(st.Hours, now, tr.LastAway); skip != "" {
				out.Skipped[domain.AutomationAway] = skip
			} else {
				rep = &reply{name: domain.AutomationAway, typ: messaging.TypeText, content: textContent(st.Away.Text)}
			}
		}
	}
	if rep == nil {
		return out, false, nil
	}
	if skip := domain.RefuseAutoReply(state, rep.template); skip != "" {
		out.Skipped[rep.name] = skip
		s.record(ws, tr, rep.name, fx)
		return out, false, nil
	}
	// The rule's changes are written before its reply is recorded as sent.
	if err := s.writeChanges(ctx, fx); err != nil {
		return out, false, err
	}
	_, err = s.d.Sender.SendAutomatic(ctx, ws, messaging.SendInput{To: tr.ContactID.String(), PhoneNumberID: tr.PhoneNumberID,
		Type: rep.typ, Content: rep.content,
		Automatic: &domain.AutomaticReply{TriggerID: tr.MessageID, Automation: rep.name}})
	switch {
	case err == nil:
		out.Replied = rep.name
		return out, true, nil
	case errors.Is(err, messaging.ErrAlreadyAnswered):
		return out, true, nil
	case refusal(err):
		// The send use case refused it (opted out meanwhile, the plan's quota, the number
		// disconnected, the template not approved ...): this reply is not sent, ever.
		s.d.Log.Warn("automation: reply refused", "workspace_id", ws, "message_id", tr.MessageID, "automation", rep.name, "err", err)
		out.Skipped[rep.name] = domain.AutoSkip(domain.KindOf(err))
		s.record(ws, tr, rep.name, fx)
		return out, true, nil
	}
	return out, true, err
}

// refusal reports whether err is the send use case's answer about this message (not an
// outage to retry).
func refusal(err error) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Kind != domain.KindUnavailable && de.Kind != domain.KindInternal
}

// record keeps that the automation handled the message without sending anything.
func (s *Service) record(ws domain.ID, tr Trigger, name string, fx *effects) {
	fx.records = append(fx.records, domain.AutomaticReply{WorkspaceID: ws, TriggerID: tr.MessageID, Automation: name,
		ContactID: tr.ContactID, PhoneNumberID: tr.PhoneNumberID, CreatedAt: s.now().UTC()})
}

// act applies a rule's action other than a reply as the system: an assignment through the
// inbox's use case at once, a tag or attribute added to fx for the contacts' use case. An
// action the use case refuses (the assignee no longer a member, a tag over the limit) is
// skipped and logged; the others still run.
func (s *Service) act(ctx context.Context, ws domain.ID, tr Trigger, a domain.Action, fx *effects) error {
	switch a.Type {
	case domain.ActionAssign:
		cv, ok, err := s.d.Store.ConversationOf(ctx, ws, tr.ContactID, tr.PhoneNumberID)
		if err != nil || !ok {
			return err
		}
		_, err = s.d.Assigner.Assign(ctx, system(ws), cv, a.UserID)
		if err != nil && refusal(err) {
			s.d.Log.Warn("automation: action refused", "workspace_id", ws, "message_id", tr.MessageID, "action", a.Type, "err", err)
			return nil
		}
		return err
	case domain.ActionAddTag:
		// Already so when the message was read: nothing to change.
		if !slices.Contains(tr.Tags, a.Tag) {
			fx.change(ws, contacts.Change{ContactID: tr.ContactID, Tag: a.Tag})
		}
	case domain.ActionSetAttribute:
		if cur, ok := tr.Attributes[a.Key]; !ok || !domain.JSONEqual(cur, a.Value) {
			fx.change(ws, contacts.Change{ContactID: tr.ContactID, Key: a.Key, Value: a.Value})
		}
	}
	return nil
}

func (fx *effects) change(ws domain.ID, c contacts.Change) {
	if fx.changes == nil {
		fx.changes = map[domain.ID][]contacts.Change{}
	}
	fx.changes[ws] = append(fx.changes[ws], c)
}

func textContent(body string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"body": strings.TrimSpace(body)})
	return b
}

// fromCustomer says whether a message type is the customer writing (a system notice of a
// changed number or a reaction is not).
func fromCustomer(typ string) bool {
	switch typ {
	case "system", "reaction", "unsupported", "ephemeral", "errors":
		return false
	}
	return true
}

// textOf is the text a rule reads in an inbound message: a text's body, a quick-reply
// button's text, an interactive reply's title; "" for the rest.
func textOf(typ string, content json.RawMessage) string {
	var c struct {
		Body        string `json:"body"`
		Text        string `json:"text"`
		ButtonReply *struct {
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			Title string `json:"title"`
		} `json:"list_reply"`
	}
	if json.Unmarshal(content, &c) != nil {
		return ""
	}
	switch typ {
	case "text":
		return c.Body
	case "button":
		return c.Text
	case "interactive":
		if c.ButtonReply != nil {
			return c.ButtonReply.Title
		}
		if c.ListReply != nil {
			return c.ListReply.Title
		}
	}
	return ""
}
