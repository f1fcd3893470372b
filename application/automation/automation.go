// Package automation holds a workspace's automations: its working hours, the away and
// welcome messages, and keyword rules (exact, contains or regex on an inbound text; the
// highest priority first, the first match wins), with their settings use cases, the dry
// run, and their evaluation.
//
// Evaluation never runs on the webhook path: Evaluator is an event-log subscriber
// ("automation") that reads message.received after the inbound transaction committed. An
// automatic message is an ordinary outbound message through messaging's send use case
// (the plan's quota, the opt-out, the 24-hour window, its row, its message.queued audit
// entry as the system naming the automation, and its send job in one transaction), and the
// same transaction records the automatic reply, one per inbound message and automation,
// so a batch delivered again never answers twice.
package automation

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Service is the automation use cases and the evaluator's state (the compiled rules).
type Service struct {
	d   Deps
	now domain.Clock

	mu       sync.Mutex
	compiled map[domain.ID]*workspaceRules // by workspace: its enabled rules as of its latest rules read
	nrules   int                           // matchers in compiled, all workspaces
	tick     uint64                        // counts rules reads, for least recently read
	maxRules int                           // the most matchers compiled kept (MaxCompiledRules)
}

// MaxCompiledRules bounds the compiled-rules cache: past it, the workspaces whose rules
// were read least recently are dropped (they compile again on their next message). 50,000
// matchers are 250 workspaces at the 200 rules' limit, or thousands with a few dozen.
const MaxCompiledRules = 50_000

// workspaceRules are the matchers of a workspace's enabled rules, by rule id, as of its
// latest rules read: a rule deleted, disabled or changed since is not in it, so the cache
// holds only what the workspace's latest read had.
type workspaceRules struct {
	used  uint64
	rules map[domain.ID]compiled
}

type compiled struct {
	version time.Time
	m       *domain.Matcher
}

// Deps are the service's ports.
type Deps struct {
	Tx       TxRunner
	Store    Store
	Sender   Sender
	Assigner Assigner
	Contacts Contacts
	Authz    authz.Authorizer
	Clock    domain.Clock // nil is time.Now
	// Log receives what an evaluation skipped or could not do; nil discards it.
	Log Logger
}

// Logger is where the evaluator reports the automations it skipped or that failed.
type Logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
}

type discard struct{}

func (discard) Info(string, ...any) {}
func (discard) Warn(string, ...any) {}

// NewService returns the use cases.
func NewService(d Deps) *Service {
	now := d.Clock
	if now == nil {
		now = time.Now
	}
	if d.Log == nil {
		d.Log = discard{}
	}
	return &Service{d: d, now: now, compiled: map[domain.ID]*workspaceRules{}, maxRules: MaxCompiledRules}
}

// SetMaxCompiledRules changes the cache's bound (for tests); n <= 0 restores MaxCompiledRules.
func (s *Service) SetMaxCompiledRules(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		n = MaxCompiledRules
	}
	s.maxRules = n
	s.evict(domain.NilID)
}

// WorkingHours returns the workspace's calendar (not configured when it set none).
func (s *Service) WorkingHours(ctx context.Context, c domain.Caller) (domain.WorkingHours, error) {
	if err := authz.Require(s.d.Authz, c, access.AutomationRead); err != nil {
		return domain.WorkingHours{}, err
	}
	st, err := s.d.Store.Settings(ctx, c.WorkspaceID)
	return st.Hours, err
}

// SetWorkingHours replaces the workspace's calendar (domain.ParseWorkingHours validates).
func (s *Service) SetWorkingHours(ctx context.Context, c domain.Caller, timezone string, days map[string][]domain.Interval,
	holidays []string) (domain.WorkingHours, error) {
	if err := authz.Require(s.d.Authz, c, access.AutomationManage); err != nil {
		return domain.WorkingHours{}, err
	}
	w, err := domain.ParseWorkingHours(timezone, days, holidays)
	if err != nil {
		return domain.WorkingHours{}, err
	}
	now := s.now().UTC()
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if err := r.Settings.SetWorkingHours(ctx, c.WorkspaceID, w, now); err != nil {
			return err
		}
		open := []string{}
		for _, d := range domain.Weekdays {
			if len(w.Days[d]) > 0 {
				open = append(open, d)
			}
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.WorkingHoursUpdated{WorkspaceID: c.WorkspaceID,
			Timezone: w.Timezone, Days: open, Holidays: len(w.Holidays)}))
	})
	return w, err
}

func checkAutoName(name string) error {
	if name != domain.AutomationAway && name != domain.AutomationWelcome {
		return domain.NotFound("automation")
	}
	return nil
}

// AutoReply returns the away (domain.AutomationAway) or welcome message.
func (s *Service) AutoReply(ctx context.Context, c domain.Caller, name string) (domain.AutoReply, error) {
	if err := authz.Require(s.d.Authz, c, access.AutomationRead); err != nil {
		return domain.AutoReply{}, err
	}
	if err := checkAutoName(name); err != nil {
		return domain.AutoReply{}, err
	}
	st, err := s.d.Store.Settings(ctx, c.WorkspaceID)
	if name == domain.AutomationAway {
		return st.Away, err
	}
	return st.Welcome, err
}

// SetAutoReply sets the away or welcome message.
func (s *Service) SetAutoReply(ctx context.Context, c domain.Caller, name string, a domain.AutoReply) (domain.AutoReply, error) {
	if err := authz.Require(s.d.Authz, c, access.AutomationManage); err != nil {
		return domain.AutoReply{}, err
	}
	if err := checkAutoName(name); err != nil {
		return domain.AutoReply{}, err
	}
	if err := a.Validate(); err != nil {
		return domain.AutoReply{}, err
	}
	now := s.now().UTC()
	err := s.d.Tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if err := r.Settings.SetAutoReply(ctx, c.WorkspaceID, name, a, now); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, now, domain.AutomationSettingsUpdated{WorkspaceID: c.WorkspaceID,
			Name: name, Enabled: a.Enabled}))
	})
	return a, err
}

// Rules pages through the workspace's rules in the order they are tried.
func (s *Service) Rules(ctx context.Context, c domain.Caller, limit int, cursor domain.ID) (domain.Page[domain.Rule], error) {
	if err := authz.Require(s.d.Authz, c, access.AutomationRead); err != nil {
		return domain.Page[domain.Rule]{}, err
	}
	rules, err := s.d.Store.Rules(ctx, c.WorkspaceID)
	if err != nil {
		return domain.Page[domain.Rule]{}, err
	}
	slices.SortFunc(rules, domain.RuleOrder)
	if !cursor.IsZero() {
		i := slices.IndexFunc(rules, func(r domain.Rule) bool { return r.ID == cursor })
		rules = rules[i+1:] // a cursor no rule has (deleted since) starts over: i+1 is 0
	}
	return domain.ReadPage(limit, func(n int) ([]domain.Rule, error) {
		return rules[:min(n, len(rules))], nil
	}, func(r domain.Rule) domain.ID { return r.ID })
}

// Rule returns one rule.
func (s *Service) Rule(ctx context.Context, c domain.Caller, id domain.ID) (domain.Rule, error) {
	if err := authz.Require(s.d.Authz, c, access.AutomationRead); err != nil {
		return domain.Rule{}, err
	}
	return s.d.Store.Rule(ctx, c.WorkspaceID, id)
}

// CreateRule validates and stores a rule (at most domain.MaxRulesPerWorkspace).
func (s *Service) CreateRule(ctx context.Context, c domain.Caller, r domain.Rule) (domain.Rule, error) {
	if err := authz.Require(s.d.Authz, c, access.AutomationManage); err != nil {
		return domain.Rule{}, err
	}
	r, err := domain.ValidateRule(r)
	if err != nil {
		return domain.Rule{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	r.ID, r.WorkspaceID, r.CreatedAt, r.UpdatedAt = domain.NewID(), c.WorkspaceID, now, now
	err = s.d.Tx.InTx(ctx, func(ctx context.Context, tx Repos) error {
		n, err := tx.Rules.LockRules(ctx, c.WorkspaceID)
		if err != nil {
			return err
		}
		if n >= domain.MaxRulesPerWorkspace {
			return domain.Errorf(domain.KindConflict, "a workspace has at most %d rules", domain.MaxRulesPerWorkspace)
		}
		if err := tx.Rules.CreateRule(ctx, r); err != nil {
			return err
		}
		return tx.Events.Append(ctx, domain.Occurred(c, now, domain.AutomationRuleChanged{Change: domain.EventAutomationRuleCreated,
			RuleID: r.ID, Name: r.Name}))
	})
	if err != nil {
		return domain.Rule{}, err
	}
	return r, nil
}

// RulePatch is a partial update of a rule: nil fields are left alone.
type RulePatch struct {
	Name     *string
	Match    *domain.MatchKind
	Keywords *[]string
	Actions  *[]domain.Action
	Priority *int
	Enabled  *bool
}

// Apply sets r's fields that p has and names them (the changed fields of the audit entry).
func (p RulePatch) Apply(r *domain.Rule) []string {
	var f []string
	if p.Name != nil {
		r.Name, f = *p.Name, append(f, "name")
	}
	if p.Match != nil {
		r.Match, f = *p.Match, append(f, "match")
	}
	if p.Keywords != nil {
		r.Keywords, f = *p.Keywords, append(f, "keywords")
	}
	if p.Actions != nil {
		r.Actions, f = *p.Actions, append(f, "actions")
	}
	if p.Priority != nil {
		r.Priority, f = *p.Priority, append(f, "priority")
	}
	if p.Enabled != nil {
		r.Enabled, f = *p.Enabled, append(f, "enabled")
	}
	return f
}

// UpdateRule changes a rule; the result is validated whole.
func (s *Service) UpdateRule(ctx context.Context, c domain.Caller, id domain.ID, p RulePatch) (domain.Rule, error) {
	if err := authz.Require(s.d.Authz, c, access.AutomationManage); err != nil {
		return domain.Rule{}, err
	}
	var out domain.Rule
	err := s.d.Tx.InTx(ctx, func(ctx context.Context, tx Repos) error {
		r, err := tx.Rules.LockRule(ctx, c.WorkspaceID, id)
		if err != nil {
			return err
		}
		fields := p.Apply(&r)
		if r, err = domain.ValidateRule(r); err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		if !now.After(r.UpdatedAt) {
			now = r.UpdatedAt.Add(time.Microsecond) // a new version, whatever the clock says
		}
		r.UpdatedAt = now
		if err := tx.Rules.UpdateRule(ctx, r); err != nil {
			return err
		}
		out = r
		return tx.Events.Append(ctx, domain.Occurred(c, now, domain.AutomationRuleChanged{Change: domain.EventAutomationRuleUpdated,
			RuleID: r.ID, Name: r.Name, Fields: fields}))
	})
	return out, err
}

// DeleteRule deletes a rule.
func (s *Service) DeleteRule(ctx context.Context, c domain.Caller, id domain.ID) error {
	if err := authz.Require(s.d.Authz, c, access.AutomationManage); err != nil {
		return err
	}
	now := s.now().UTC()
	return s.d.Tx.InTx(ctx, func(ctx context.Context, tx Repos) error {
		r, err := tx.Rules.LockRule(ctx, c.WorkspaceID, id)
		if err != nil {
			return err
		}
		if err := tx.Rules.DeleteRule(ctx, c.WorkspaceID, id); err != nil {
			return err
		}
		return tx.Events.Append(ctx, domain.Occurred(c, now, domain.AutomationRuleChanged{Change: domain.EventAutomationRuleDeleted,
			RuleID: r.ID, Name: r.Name}))
	})
}

// TestResult is what a dry run found: the rule a text would trigger (nil for none) and
// its actions.
type TestResult struct {
	Rule *domain.Rule
}

// Test is the dry run: the enabled rule a text would trigger now, sending nothing.
func (s *Service) Test(ctx context.Context, c domain.Caller, text string) (TestResult, error) {
	if err := authz.Require(s.d.Authz, c, access.AutomationRead); err != nil {
		return TestResult{}, err
	}
	var v domain.Validator
	v.Check(len(text) <= 4096, "text", "must be at most 4096 bytes")
	if err := v.Err(); err != nil {
		return TestResult{}, err
	}
	ms, err := s.matchers(ctx, c.WorkspaceID)
	if err != nil {
		return TestResult{}, err
	}
	if m := domain.FirstMatch(ms, text); m != nil {
		r := m.Rule
		return TestResult{Rule: &r}, nil
	}
	return TestResult{}, nil
}

// matchers are the workspace's enabled rules, compiled (once per rule version) and in
// the order they are tried.
func (s *Service) matchers(ctx context.Context, ws domain.ID) ([]*domain.Matcher, error) {
	rules, err := s.d.Store.Rules(ctx, ws)
	if err != nil {
		return nil, err
	}
	return s.compile(ws, rules), nil
}

// compile returns the matchers of the enabled rules of ws, in the order they are tried,
// compiling only the rule versions the cache does not hold. The workspace's entry is
// replaced by what this read found, so the versions it no longer has go.
func (s *Service) compile(ws domain.ID, rules []domain.Rule) []*domain.Matcher {
	slices.SortFunc(rules, domain.RuleOrder)
	out := make([]*domain.Matcher, 0, len(rules))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick++
	old := s.compiled[ws]
	next := &workspaceRules{used: s.tick, rules: make(map[domain.ID]compiled, len(rules))}
	for _, r := range rules {
		if !r.Enabled {
			continue
		}
		if old != nil {
			if c, ok := old.rules[r.ID]; ok && c.version.Equal(r.UpdatedAt) {
				next.rules[r.ID] = c
				out = append(out, c.m)
				continue
			}
		}
		m, err := domain.CompileRule(r)
		if err != nil {
			s.d.Log.Warn("automation: a stored rule does not compile; it is skipped", "rule_id", r.ID, "err", err)
			continue
		}
		next.rules[r.ID] = compiled{version: r.UpdatedAt, m: m}
		out = append(out, m)
	}
	if old != nil {
		s.nrules -= len(old.rules)
	}
	if len(next.rules) == 0 {
		delete(s.compiled, ws)
	} else {
		s.compiled[ws] = next
		s.nrules += len(next.rules)
	}
	s.evict(ws)
	return out
}

// evict drops the least recently read workspaces but keep until the cache is within its
// bound (keep's own rules stay: they were just read and are in use). s.mu is held.
func (s *Service) evict(keep domain.ID) {
	for s.nrules > s.maxRules {
		var oldest domain.ID
		var used uint64
		found := false
		for ws, w := range s.compiled {
			if ws != keep && (!found || w.used < used) {
				oldest, used, found = ws, w.used, true
			}
		}
		if !found {
			return
		}
		s.nrules -= len(s.compiled[oldest].rules)
		delete(s.compiled, oldest)
	}
}

// CompiledRules is how many rule versions the cache holds (for tests).
func (s *Service) CompiledRules() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nrules
}
