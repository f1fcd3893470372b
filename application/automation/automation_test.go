package automation_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/automation"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/conversations"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// fakes: one workspace's rules, settings, triggers and automatic replies in memory.
type store struct {
	settings automation.Settings
	rules    map[domain.ID]domain.Rule
	triggers map[domain.ID]automation.Trigger
	records  []domain.AutomaticReply
	evs      []domain.Occurrence
	reads    int // trigger queries
	// recordAlls counts RecordAll calls with rows
	recordAlls int
}

func (s *store) Settings(context.Context, domain.ID) (automation.Settings, error) {
	return s.settings, nil
}
func (s *store) Rules(context.Context, domain.ID) ([]domain.Rule, error) {
	var out []domain.Rule
	for _, r := range s.rules {
		out = append(out, r)
	}
	return out, nil
}
func (s *store) Rule(_ context.Context, _, id domain.ID) (domain.Rule, error) {
	r, ok := s.rules[id]
	if !ok {
		return r, domain.NotFound("rule")
	}
	return r, nil
}
func (s *store) Trigger(_ context.Context, _, id domain.ID, _ time.Time) (automation.Trigger, bool, error) {
	t, ok := s.triggers[id]
	if !ok {
		return t, false, nil
	}
	for _, r := range s.records {
		if r.TriggerID == id {
			t.Done = append(t.Done, r.Automation)
		}
		if r.ContactID == t.ContactID && r.MessageID != nil {
			t.RepliesSince++
		}
	}
	s.reads++
	return t, true, nil
}
func (s *store) Triggers(ctx context.Context, ws domain.ID, ids []domain.ID, since time.Time) (map[domain.ID]automation.Trigger, error) {
	out := map[domain.ID]automation.Trigger{}
	for _, id := range ids {
		if t, ok, _ := s.Trigger(ctx, ws, id, since); ok {
			out[id] = t
		}
	}
	s.reads -= len(out) - 1 // one query
	return out, nil
}
func (s *store) ConversationOf(context.Context, domain.ID, domain.ID, string) (domain.ID, bool, error) {
	return domain.NewID(), true, nil
}
func (s *store) Record(_ context.Context, r domain.AutomaticReply) error {
	for _, x := range s.records {
		if x.TriggerID == r.TriggerID && x.Automation == r.Automation {
			if r.MessageID != nil {
				return domain.Errorf(domain.KindConflict, "dup")
			}
			return nil
		}
	}
	s.records = append(s.records, r)
	return nil
}
func (s *store) RecordAll(ctx context.Context, rs []domain.AutomaticReply) error {
	if len(rs) > 0 {
		s.recordAlls++
	}
	for _, r := range rs {
		if err := s.Record(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
func (s *store) SetWorkingHours(_ context.Context, _ domain.ID, w domain.WorkingHours, _ time.Time) error {
	s.settings.Hours = w
	return nil
}
func (s *store) SetAutoReply(_ context.Context, _ domain.ID, name string, a domain.AutoReply, _ time.Time) error {
	if name == domain.AutomationAway {
		s.settings.Away = a
	} else {
		s.settings.Welcome = a
	}
	return nil
}
func (s *store) LockRules(context.Context, domain.ID) (int, error) { return len(s.rules), nil }
func (s *store) CreateRule(_ context.Context, r domain.Rule) error { s.rules[r.ID] = r; return nil }
func (s *store) LockRule(ctx context.Context, ws, id domain.ID) (domain.Rule, error) {
	return s.Rule(ctx, ws, id)
}
func (s *store) UpdateRule(_ context.Context, r domain.Rule) error { s.rules[r.ID] = r; return nil }
func (s *store) DeleteRule(_ context.Context, _, id domain.ID) error {
	delete(s.rules, id)
	return nil
}
func (s *store) Append(_ context.Context, os ...domain.Occurrence) error {
	s.evs = append(s.evs, os...)
	return nil
}
func (s *store) InTx(ctx context.Context, fn func(context.Context, automation.Repos) error) error {
	return fn(ctx, automation.Repos{Settings: s, Rules: s, Events: s})
}

// sender records what the send use case was asked, and records the reply as its
// transaction would (refusing a second one for the same trigger and automation).
type sender struct {
	st   *store
	sent []messaging.SendInput
	err  error
}

func (f *sender) SendAutomatic(_ context.Context, ws domain.ID, in messaging.SendInput) (domain.Message, error) {
	if f.err != nil {
		return domain.Message{}, f.err
	}
	id := domain.NewID()
	r := *in.Automatic
	r.WorkspaceID, r.MessageID = ws, &id
	r.ContactID, _ = domain.ParseID(in.To)
	if err := f.st.Record(context.Background(), r); err != nil {
		return domain.Message{}, messaging.ErrAlreadyAnswered
	}
	f.sent = append(f.sent, in)
	return domain.Message{ID: id}, nil
}

type assigner struct{ to []*domain.ID }

func (a *assigner) Assign(_ context.Context, c domain.Caller, _ domain.ID, user *domain.ID) (conversations.Item, error) {
	if c.Type != domain.ActorSystem {
		panic("not the system")
	}
	a.to = append(a.to, user)
	return conversations.Item{}, nil
}

// contactsFake applies every change to one contact, as the contacts' use case would.
type contactsFake struct {
	c       domain.Contact
	calls   int // Apply calls
	changes int // changes handed over
}

func (f *contactsFake) Apply(_ context.Context, c domain.Caller, chs []contacts.Change) ([]contacts.Refused, error) {
	if c.Type != domain.ActorSystem {
		panic("not the system")
	}
	f.calls++
	f.changes += len(chs)
	for _, ch := range chs {
		switch {
		case ch.Key != "":
			f.c.Attributes[ch.Key] = ch.Value
		case !slices.Contains(f.c.Tags, ch.Tag):
			f.c.Tags = append(f.c.Tags, ch.Tag)
		}
	}
	return nil, nil
}

var grants = authztest.Grants{
	access.Owner:  {access.AutomationRead, access.AutomationManage},
	access.Viewer: {access.AutomationRead},
}

type bundle struct {
	svc     *automation.Service
	st      *store
	send    *sender
	assign  *assigner
	contact *contactsFake
	now     time.Time
	ws      domain.ID
	owner   domain.Caller
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{st: &store{rules: map[domain.ID]domain.Rule{}, triggers: map[domain.ID]automation.Trigger{}},
		assign: &assigner{}, contact: &contactsFake{c: domain.Contact{Tags: []string{}, Attributes: map[string]any{}}},
		now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), ws: domain.NewID()}
	b.send = &sender{st: b.st}
	b.owner = domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: b.ws, Role: access.Owner}
	b.svc = automation.NewService(automation.Deps{Tx: b.st, Store: b.st, Sender: b.send, Assigner: b.assign, Contacts: b.contact,
		Authz: grants, Clock: func() time.Time { return b.now }})
	return b
}

// inbound adds a stored inbound text with an open window and returns its id.
func (b *bundle) inbound(text string, mod ...func(*automation.Trigger)) domain.ID {
	id := domain.NewID()
	exp := b.now.Add(20 * time.Hour)
	content, _ := json.Marshal(map[string]string{"body": text})
	tr := automation.Trigger{MessageID: id, ContactID: domain.NewID(), PhoneNumberID: "pn", Direction: domain.Inbound, Type: "text",
		Content: content, WindowExpiresAt: &exp, WroteBefore: true}
	for _, f := range mod {
		f(&tr)
	}
	b.st.triggers[id] = tr
	return id
}

func (b *bundle) handle(t *testing.T, ids ...domain.ID) {
	t.Helper()
	var batch []events.Logged
	for i, id := range ids {
		id := id
		batch = append(batch, events.Logged{ID: int64(i + 1), WorkspaceID: b.ws, Kind: domain.EventMessageReceived,
			ActorType: domain.ActorContact, MessageID: &id})
	}
	require.NoError(t, b.svc.Evaluator().Handle(context.Background(), batch))
}

func (b *bundle) createRule(t *testing.T, r domain.Rule) domain.Rule {
	t.Helper()
	r.Enabled = true
	out, err := b.svc.CreateRule(context.Background(), b.owner, r)
	require.NoError(t, err)
	return out
}

func TestEvaluatorRepliesOnceAndActs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	user := domain.NewID()
	r := b.createRule(t, domain.Rule{Name: "agent", Match: domain.MatchContains, Keywords: []string{"agent"}, Actions: []domain.Action{
		{Type: domain.ActionAssign, UserID: &user}, {Type: domain.ActionAddTag, Tag: "vip"},
		{Type: domain.ActionSetAttribute, Key: "k", Value: "v"}, {Type: domain.ActionReplyText, Text: "On it"}}})
	require.Len(t, b.st.evs, 1)
	require.Equal(t, domain.EventAutomationRuleCreated, b.st.evs[0].Event.Kind())

	msg := b.inbound("I need an AGENT")
	b.handle(t, msg)
	b.handle(t, msg) // the batch again: nothing twice
	require.Len(t, b.send.sent, 1)
	in := b.send.sent[0]
	require.Equal(t, r.ID.String(), in.Automatic.Automation)
	require.Equal(t, msg, in.Automatic.TriggerID)
	require.Equal(t, messaging.TypeText, in.Type)
	require.JSONEq(t, `{"body":"On it"}`, string(in.Content))
	require.Len(t, b.assign.to, 1, "the actions ran once: the rule's record stops a second evaluation")
	require.Equal(t, []string{"vip"}, b.contact.c.Tags)
	require.Equal(t, map[string]any{"k": "v"}, b.contact.c.Attributes)

	// Events other than a contact's message.received are ignored.
	other := b.inbound("agent")
	require.NoError(t, b.svc.Evaluator().Handle(context.Background(), []events.Logged{
		{WorkspaceID: b.ws, Kind: domain.EventMessageQueued, ActorType: domain.ActorSystem, MessageID: &other},
		{WorkspaceID: b.ws, Kind: domain.EventMessageReceived, ActorType: domain.ActorSystem, MessageID: &other}}))
	require.Len(t, b.send.sent, 1)
}

func TestEvaluatorRails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createRule(t, domain.Rule{Name: "hi", Match: domain.MatchExact, Keywords: []string{"hi"},
		Actions: []domain.Action{{Type: domain.ActionReplyText, Text: "hello"}}})
	b.createRule(t, domain.Rule{Name: "menu", Match: domain.MatchExact, Keywords: []string{"menu"},
		Actions: []domain.Action{{Type: domain.ActionReplyTemplate, Template: json.RawMessage(`{"name":"menu","language":"en"}`)}}})
	ctx := context.Background()

	out, err := b.svc.Evaluate(ctx, b.ws, b.inbound("hi", func(tr *automation.Trigger) { tr.OptedOut = true }))
	require.NoError(t, err)
	require.Equal(t, domain.AutoSkipOptedOut, firstSkip(out))
	out, err = b.svc.Evaluate(ctx, b.ws, b.inbound("hi", func(tr *automation.Trigger) { tr.RepliesSince = 3 }))
	require.NoError(t, err)
	require.Equal(t, domain.AutoSkipHourlyCap, firstSkip(out))
	closed := func(tr *automation.Trigger) { tr.WindowExpiresAt = nil }
	out, err = b.svc.Evaluate(ctx, b.ws, b.inbound("hi", closed))
	require.NoError(t, err)
	require.Equal(t, domain.AutoSkipOutsideWindow, firstSkip(out))
	require.Empty(t, b.send.sent)
	out, err = b.svc.Evaluate(ctx, b.ws, b.inbound("menu", closed))
	require.NoError(t, err)
	require.NotEmpty(t, out.Replied, "a template goes outside the window")

	// A refusal of the send use case is final (recorded), an outage is retried.
	b.send.err = domain.Errorf(domain.KindRateLimited, "quota")
	id := b.inbound("hi")
	out, err = b.svc.Evaluate(ctx, b.ws, id)
	require.NoError(t, err)
	require.Equal(t, domain.AutoSkip(domain.KindRateLimited), firstSkip(out))
	b.send.err = domain.Errorf(domain.KindUnavailable, "down")
	_, err = b.svc.Evaluate(ctx, b.ws, b.inbound("hi"))
	require.Error(t, err)
}

func firstSkip(o automation.Outcome) domain.AutoSkip {
	for _, s := range o.Skipped {
		return s
	}
	return ""
}

func TestWelcomeAndAway(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.svc.SetAutoReply(ctx, b.owner, domain.AutomationWelcome, domain.AutoReply{Enabled: true, Text: "Welcome"})
	require.NoError(t, err)
	_, err = b.svc.SetAutoReply(ctx, b.owner, domain.AutomationAway, domain.AutoReply{Enabled: true, Text: "Closed"})
	require.NoError(t, err)
	_, err = b.svc.SetAutoReply(ctx, b.owner, "holiday", domain.AutoReply{})
	require.True(t, domain.IsKind(err, domain.KindNotFound))
	// Open Monday 09:00-12:00 in UTC; b.now is Monday 10:00.
	_, err = b.svc.SetWorkingHours(ctx, b.owner, "UTC", map[string][]domain.Interval{"mon": {{From: "09:00", To: "12:00"}}}, nil)
	require.NoError(t, err)

	first := func(tr *automation.Trigger) { tr.WroteBefore = false }
	out, err := b.svc.Evaluate(ctx, b.ws, b.inbound("hello", first))
	require.NoError(t, err)
	require.Equal(t, domain.AutomationWelcome, out.Replied)
	out, err = b.svc.Evaluate(ctx, b.ws, b.inbound("hello"))
	require.NoError(t, err)
	require.Empty(t, out.Replied)
	require.Equal(t, domain.AutoSkipInsideHours, out.Skipped[domain.AutomationAway])

	b.now = b.now.Add(3 * time.Hour) // 13:00: closed
	out, err = b.svc.Evaluate(ctx, b.ws, b.inbound("hello"))
	require.NoError(t, err)
	require.Equal(t, domain.AutomationAway, out.Replied)
	recent := b.now.Add(-time.Hour)
	out, err = b.svc.Evaluate(ctx, b.ws, b.inbound("hello", func(tr *automation.Trigger) { tr.LastAway = &recent }))
	require.NoError(t, err)
	require.Equal(t, domain.AutoSkipAwayRecently, out.Skipped[domain.AutomationAway])

	// A rule with a reply takes the message's one reply; a rule without one leaves it to the away message.
	b.createRule(t, domain.Rule{Name: "tag", Match: domain.MatchContains, Keywords: []string{"tag me"},
		Actions: []domain.Action{{Type: domain.ActionAddTag, Tag: "t"}}})
	out, err = b.svc.Evaluate(ctx, b.ws, b.inbound("please tag me"))
	require.NoError(t, err)
	require.NotNil(t, out.Rule)
	require.Equal(t, domain.AutomationAway, out.Replied)
}

func TestRulesUseCases(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	viewer := b.owner
	viewer.Role = access.Viewer
	_, err := b.svc.CreateRule(ctx, viewer, domain.Rule{})
	require.True(t, domain.IsKind(err, domain.KindForbidden))
	_, err = b.svc.CreateRule(ctx, b.owner, domain.Rule{Name: "x", Match: domain.MatchRegex, Keywords: []string{"(?<=a)b"},
		Actions: []domain.Action{{Type: domain.ActionAddTag, Tag: "t"}}})
	require.True(t, domain.IsKind(err, domain.KindValidation))

	r := b.createRule(t, domain.Rule{Name: "x", Match: domain.MatchRegex, Keywords: []string{`^a\d$`},
		Actions: []domain.Action{{Type: domain.ActionAddTag, Tag: "t"}}})
	res, err := b.svc.Test(ctx, viewer, "a1")
	require.NoError(t, err)
	require.Equal(t, r.ID, res.Rule.ID)
	require.Equal(t, 1, b.svc.CompiledRules())
	_, err = b.svc.Test(ctx, viewer, "a2")
	require.NoError(t, err)
	require.Equal(t, 1, b.svc.CompiledRules(), "compiled once per version")

	kw := []string{`^b\d$`}
	upd, err := b.svc.UpdateRule(ctx, b.owner, r.ID, automation.RulePatch{Keywords: &kw})
	require.NoError(t, err)
	require.True(t, upd.UpdatedAt.After(r.UpdatedAt), "a new version even when the clock stands still")
	res, err = b.svc.Test(ctx, viewer, "a1")
	require.NoError(t, err)
	require.Nil(t, res.Rule, "the new version is compiled, not the cached one")

	page, err := b.svc.Rules(ctx, viewer, 50, domain.NilID)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.NoError(t, b.svc.DeleteRule(ctx, b.owner, r.ID))
	require.True(t, domain.IsKind(b.svc.DeleteRule(ctx, b.owner, r.ID), domain.KindNotFound))
	kinds := []domain.EventKind{}
	for _, e := range b.st.evs {
		kinds = append(kinds, e.Event.Kind())
	}
	require.Equal(t, []domain.EventKind{domain.EventAutomationRuleCreated, domain.EventAutomationRuleUpdated,
		domain.EventAutomationRuleDeleted}, kinds)
}

// The compiled-rules cache holds only what each workspace's latest rules read had (a
// deleted, disabled or changed rule's matcher goes), and at most its bound in all.
func TestCompiledRulesBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	tag := []domain.Action{{Type: domain.ActionAddTag, Tag: "t"}}
	var rules []domain.Rule
	for i := range 3 {
		rules = append(rules, b.createRule(t, domain.Rule{Name: "r", Match: domain.MatchRegex,
			Keywords: []string{`^a` + strings.Repeat(`\d`, i+1) + `$`}, Actions: tag}))
	}
	test := func(text string) *domain.Rule {
		t.Helper()
		res, err := b.svc.Test(ctx, b.owner, text)
		require.NoError(t, err)
		return res.Rule
	}
	require.Equal(t, rules[1].ID, test("a12").ID)
	require.Equal(t, 3, b.svc.CompiledRules())

	require.NoError(t, b.svc.DeleteRule(ctx, b.owner, rules[0].ID))
	require.Nil(t, test("a1"))
	require.Equal(t, 2, b.svc.CompiledRules(), "a deleted rule's matcher is dropped")

	off := false
	_, err := b.svc.UpdateRule(ctx, b.owner, rules[1].ID, automation.RulePatch{Enabled: &off})
	require.NoError(t, err)
	require.Nil(t, test("a12"))
	require.Equal(t, 1, b.svc.CompiledRules(), "a disabled rule's matcher is dropped")

	for i := range 5 { // versions of one rule replace each other
		kw := []string{`^b` + strings.Repeat(`\d`, i+1) + `$`}
		_, err := b.svc.UpdateRule(ctx, b.owner, rules[2].ID, automation.RulePatch{Keywords: &kw})
		require.NoError(t, err)
		require.Equal(t, rules[2].ID, test("b"+strings.Repeat("7", i+1)).ID)
		require.Equal(t, 1, b.svc.CompiledRules(), "one version per rule")
	}

	// Across workspaces (the fake store gives each the same rules): at most the bound, the
	// least recently read workspace dropped first, and a dropped one compiles again.
	on := true
	_, err = b.svc.UpdateRule(ctx, b.owner, rules[1].ID, automation.RulePatch{Enabled: &on})
	require.NoError(t, err)
	b.svc.SetMaxCompiledRules(5)
	first := domain.NewID()
	for _, ws := range []domain.ID{first, domain.NewID(), domain.NewID(), domain.NewID()} {
		_, err := b.svc.Evaluate(ctx, ws, domain.NewID())
		require.NoError(t, err)
		require.LessOrEqual(t, b.svc.CompiledRules(), 5)
	}
	require.Equal(t, 4, b.svc.CompiledRules(), "two workspaces of two rules each")
	out, err := b.svc.Evaluate(ctx, first, b.inbound("a12"))
	require.NoError(t, err)
	require.NotNil(t, out.Rule, "an evicted workspace's rules compile again")
	require.Equal(t, rules[1].ID, *out.Rule)
	b.svc.SetMaxCompiledRules(1)
	require.Zero(t, b.svc.CompiledRules(), "a lower bound applies at once")
	_, err = b.svc.Evaluate(ctx, first, domain.NewID())
	require.NoError(t, err)
	require.Equal(t, 2, b.svc.CompiledRules(), "the bound never drops the rules of the workspace just read")
}

// A batch reads its messages in one query; a message whose contact got a reply earlier in
// the batch is read again, so the hourly cap counts that reply.
func TestEvaluatorBatchReadsOnceAndKeepsTheCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createRule(t, domain.Rule{Name: "hi", Match: domain.MatchContains, Keywords: []string{"hello"},
		Actions: []domain.Action{{Type: domain.ActionReplyText, Text: "Hi!"}}})
	b.createRule(t, domain.Rule{Name: "tag", Match: domain.MatchContains, Keywords: []string{"tag me"},
		Actions: []domain.Action{{Type: domain.ActionAddTag, Tag: "vip"}}})
	contact := domain.NewID()
	same := func(tr *automation.Trigger) { tr.ContactID = contact; tr.RepliesSince = 1 }
	var ids []domain.ID
	for range 10 {
		ids = append(ids, b.inbound("please tag me"))
	}
	ids = append(ids, b.inbound("hello", same), b.inbound("hello", same), b.inbound("hello again", same))
	b.handle(t, ids...)
	require.Len(t, b.send.sent, 2, "1 earlier reply + 2 = the hourly cap of 3")
	require.Equal(t, 1+2, b.st.reads, "one query for the batch, then one for each message of a contact already answered in it")
	require.Len(t, b.st.records, 10+3, "10 tags, 2 replies, 1 capped")
	require.Equal(t, 1, b.st.recordAlls, "the handlings that sent nothing are recorded at once")
	require.Equal(t, []string{"vip"}, b.contact.c.Tags)
	require.Equal(t, 1, b.contact.calls, "the batch's tags are written at once")
	changes := b.contact.changes

	b.st.reads = 0
	b.handle(t, ids...)
	require.Len(t, b.send.sent, 2, "a batch delivered again answers nothing twice")
	require.Equal(t, 1, b.st.reads, "nothing replied: one query")
	require.Equal(t, changes, b.contact.changes, "nothing acted on again")

	// A contact that had the tag when its message was read is handed no change.
	b.st.reads = 0
	has := func(tr *automation.Trigger) { tr.Tags = []string{"vip"} }
	b.handle(t, b.inbound("tag me please", has), b.inbound("tag me too", has))
	require.Equal(t, changes, b.contact.changes)
	require.Len(t, b.st.records, 10+3+2)
}
