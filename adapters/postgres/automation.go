package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/automation"
	"github.com/wabaplatform/waba/domain"
)

// AutomationRepo stores working hours, the away and welcome messages, keyword rules and
// the automatic replies (automation.Store, SettingsWriter, RuleWriter and
// messaging.AutomaticReplies).
type AutomationRepo struct{ q Querier }

// NewAutomationRepo returns the repository over q (a pool or a transaction).
func NewAutomationRepo(q Querier) *AutomationRepo { return &AutomationRepo{q: q} }

// hoursRecord is working hours as the settings row keeps them (the API's shape).
type hoursRecord struct {
	Timezone string                      `json:"timezone"`
	Days     map[string][]intervalRecord `json:"days"`
	Holidays []string                    `json:"holidays"`
}

type intervalRecord struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Settings implements automation.Store.
func (r *AutomationRepo) Settings(ctx context.Context, ws domain.ID) (automation.Settings, error) {
	var st automation.Settings
	var hours []byte
	err := r.q.QueryRow(ctx, `SELECT working_hours, away_enabled, away_text, welcome_enabled, welcome_text
		FROM automation_settings WHERE workspace_id = $1`, ws).
		Scan(&hours, &st.Away.Enabled, &st.Away.Text, &st.Welcome.Enabled, &st.Welcome.Text)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if len(hours) > 0 {
		var h hoursRecord
		if err := json.Unmarshal(hours, &h); err != nil {
			return st, fmt.Errorf("automation settings of %s: working hours: %w", ws, err)
		}
		days := map[string][]domain.Interval{}
		for d, list := range h.Days {
			for _, iv := range list {
				days[d] = append(days[d], domain.Interval{From: iv.From, To: iv.To})
			}
		}
		// Stored hours were valid when set; a zone the system no longer knows leaves none.
		if w, err := domain.ParseWorkingHours(h.Timezone, days, h.Holidays); err == nil {
			st.Hours = w
		}
	}
	return st, nil
}

// SetWorkingHours implements automation.SettingsWriter.
func (r *AutomationRepo) SetWorkingHours(ctx context.Context, ws domain.ID, w domain.WorkingHours, at time.Time) error {
	h := hoursRecord{Timezone: w.Timezone, Days: map[string][]intervalRecord{}, Holidays: w.Holidays}
	for d, list := range w.Days {
		for _, iv := range list {
			h.Days[d] = append(h.Days[d], intervalRecord{From: iv.From, To: iv.To})
		}
	}
	if h.Holidays == nil {
		h.Holidays = []string{}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, `INSERT INTO automation_settings (workspace_id, working_hours, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id) DO UPDATE SET working_hours = excluded.working_hours, updated_at = excluded.updated_at`, ws, b, at)
	return err
}

// SetAutoReply implements automation.SettingsWriter.
func (r *AutomationRepo) SetAutoReply(ctx context.Context, ws domain.ID, name string, a domain.AutoReply, at time.Time) error {
	var sql string
	switch name {
	case domain.AutomationAway:
		sql = `INSERT INTO automation_settings (workspace_id, away_enabled, away_text, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (workspace_id) DO UPDATE SET away_enabled = $2, away_text = $3, updated_at = $4`
	case domain.AutomationWelcome:
		sql = `INSERT INTO automation_settings (workspace_id, welcome_enabled, welcome_text, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (workspace_id) DO UPDATE SET welcome_enabled = $2, welcome_text = $3, updated_at = $4`
	default:
		return fmt.Errorf("automation: no auto reply %q", name)
	}
	_, err := r.q.Exec(ctx, sql, ws, a.Enabled, a.Text, at)
	return err
}

// actionRecord is a rule's action as the rules table keeps it (the API's shape).
type actionRecord struct {
	Type     string          `json:"type"`
	Text     string          `json:"text,omitempty"`
	Template json.RawMessage `json:"template,omitempty"`
	UserID   *domain.ID      `json:"user_id,omitempty"`
	Tag      string          `json:"tag,omitempty"`
	Key      string          `json:"key,omitempty"`
	Value    any             `json:"value,omitempty"`
}

const ruleColumns = `workspace_id, id, name, match, keywords, actions, priority, enabled, created_at, updated_at`

func scanRule(row pgx.CollectableRow) (domain.Rule, error) {
	var r domain.Rule
	var match string
	var keywords, actions []byte
	if err := row.Scan(&r.WorkspaceID, &r.ID, &r.Name, &match, &keywords, &actions, &r.Priority, &r.Enabled,
		&r.CreatedAt, &r.UpdatedAt); err != nil {
		return r, err
	}
	r.Match = domain.MatchKind(match)
	if err := json.Unmarshal(keywords, &r.Keywords); err != nil {
		return r, fmt.Errorf("rule %s: keywords: %w", r.ID, err)
	}
	var recs []actionRecord
	if err := json.Unmarshal(actions, &recs); err != nil {
		return r, fmt.Errorf("rule %s: actions: %w", r.ID, err)
	}
	r.Actions = make([]domain.Action, len(recs))
	for i, a := range recs {
		r.Actions[i] = domain.Action{Type: domain.ActionType(a.Type), Text: a.Text, Template: a.Template, UserID: a.UserID,
			Tag: a.Tag, Key: a.Key, Value: a.Value}
	}
	return r, nil
}

func ruleJSON(r domain.Rule) (keywords, actions []byte, err error) {
	if keywords, err = json.Marshal(r.Keywords); err != nil {
		return nil, nil, err
	}
	recs := make([]actionRecord, len(r.Actions))
	for i, a := range r.Actions {
		recs[i] = actionRecord{Type: string(a.Type), Text: a.Text, Template: a.Template, UserID: a.UserID, Tag: a.Tag, Key: a.Key,
			Value: a.Value}
	}
	actions, err = json.Marshal(recs)
	return keywords, actions, err
}

// Rules implements automation.Store.
func (r *AutomationRepo) Rules(ctx context.Context, ws domain.ID) ([]domain.Rule, error) {
	rows, err := r.q.Query(ctx, `SELECT `+ruleColumns+` FROM automation_rules WHERE workspace_id = $1`, ws)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanRule)
}

// Rule implements automation.Store.
func (r *AutomationRepo) Rule(ctx context.Context, ws, id domain.ID) (domain.Rule, error) {
	return r.rule(ctx, ws, id, "")
}

func (r *AutomationRepo) rule(ctx context.Context, ws, id domain.ID, lock string) (domain.Rule, error) {
	rows, err := r.q.Query(ctx, `SELECT `+ruleColumns+` FROM automation_rules WHERE workspace_id = $1 AND id = $2`+lock, ws, id)
	if err != nil {
		return domain.Rule{}, err
	}
	rule, err := pgx.CollectExactlyOneRow(rows, scanRule)
	return rule, notFound(err, "rule")
}

// LockRules implements automation.RuleWriter: the workspace's settings row is the lock.
func (r *AutomationRepo) LockRules(ctx context.Context, ws domain.ID) (int, error) {
	if _, err := r.q.Exec(ctx, `INSERT INTO automation_settings (workspace_id, updated_at) VALUES ($1, now())
		ON CONFLICT (workspace_id) DO UPDATE SET workspace_id = excluded.workspace_id`, ws); err != nil {
		return 0, err
	}
	var n int
	err := r.q.QueryRow(ctx, `SELECT count(*) FROM automation_rules WHERE workspace_id = $1`, ws).Scan(&n)
	return n, err
}

// CreateRule implements automation.RuleWriter.
func (r *AutomationRepo) CreateRule(ctx context.Context, rule domain.Rule) error {
	kw, acts, err := ruleJSON(rule)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, `INSERT INTO automation_rules (`+ruleColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		rule.WorkspaceID, rule.ID, rule.Name, string(rule.Match), kw, acts, rule.Priority, rule.Enabled, rule.CreatedAt, rule.UpdatedAt)
	return err
}

// LockRule implements automation.RuleWriter.
func (r *AutomationRepo) LockRule(ctx context.Context, ws, id domain.ID) (domain.Rule, error) {
	return r.rule(ctx, ws, id, " FOR UPDATE")
}

// UpdateRule implements automation.RuleWriter.
func (r *AutomationRepo) UpdateRule(ctx context.Context, rule domain.Rule) error {
	kw, acts, err := ruleJSON(rule)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, `UPDATE automation_rules SET name = $3, match = $4, keywords = $5, actions = $6, priority = $7,
		enabled = $8, updated_at = $9 WHERE workspace_id = $1 AND id = $2`,
		rule.WorkspaceID, rule.ID, rule.Name, string(rule.Match), kw, acts, rule.Priority, rule.Enabled, rule.UpdatedAt)
	return err
}

// DeleteRule implements automation.RuleWriter.
func (r *AutomationRepo) DeleteRule(ctx context.Context, ws, id domain.ID) error {
	_, err := r.q.Exec(ctx, `DELETE FROM automation_rules WHERE workspace_id = $1 AND id = $2`, ws, id)
	return err
}

// triggerSQL reads inbound messages ($2, an array of ids) of a workspace with their
// contacts and the rails' counts, automatic replies after $3 counted.
const triggerSQL = `
		SELECT m.id, m.contact_id, m.phone_number_id, m.direction, m.type, m.content, c.opted_out, c.service_window_expires_at,
			(SELECT count(*) FROM automatic_replies a WHERE a.workspace_id = m.workspace_id AND a.contact_id = m.contact_id
				AND a.message_id IS NOT NULL AND a.created_at > $3),
			EXISTS (SELECT 1 FROM messages p WHERE p.workspace_id = m.workspace_id AND p.contact_id = m.contact_id
				AND p.direction = 'inbound' AND p.id < m.id),
			(SELECT max(a.created_at) FROM automatic_replies a WHERE a.workspace_id = m.workspace_id AND a.contact_id = m.contact_id
				AND a.message_id IS NOT NULL AND a.automation = 'away' AND a.phone_number_id = m.phone_number_id),
			ARRAY(SELECT a.automation FROM automatic_replies a WHERE a.workspace_id = m.workspace_id AND a.trigger_id = m.id),
			c.tags, c.attributes
		FROM messages m JOIN contacts c ON c.workspace_id = m.workspace_id AND c.id = m.contact_id
		WHERE m.workspace_id = $1 AND m.id = ANY($2::uuid[])`

func scanTrigger(row pgx.Row) (automation.Trigger, error) {
	var t automation.Trigger
	var dir string
	err := row.Scan(&t.MessageID, &t.ContactID, &t.PhoneNumberID, &dir, &t.Type, &t.Content, &t.OptedOut, &t.WindowExpiresAt,
		&t.RepliesSince, &t.WroteBefore, &t.LastAway, &t.Done, &t.Tags, &t.Attributes)
	t.Direction = domain.Direction(dir)
	return t, err
}

// Trigger implements automation.Store: the message, its contact and the rails' counts in
// one round trip.
func (r *AutomationRepo) Trigger(ctx context.Context, ws, messageID domain.ID, since time.Time) (automation.Trigger, bool, error) {
	t, err := scanTrigger(r.q.QueryRow(ctx, triggerSQL, ws, []domain.ID{messageID}, since))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, false, nil
	}
	return t, err == nil, err
}

// Triggers implements automation.Store: Trigger of many messages in one round trip.
func (r *AutomationRepo) Triggers(ctx context.Context, ws domain.ID, messageIDs []domain.ID, since time.Time) (map[domain.ID]automation.Trigger, error) {
	rows, err := r.q.Query(ctx, triggerSQL, ws, messageIDs, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[domain.ID]automation.Trigger, len(messageIDs))
	for rows.Next() {
		t, err := scanTrigger(rows)
		if err != nil {
			return nil, err
		}
		out[t.MessageID] = t
	}
	return out, rows.Err()
}

// RecordAll implements automation.Store: one statement; a row already there is kept, and
// one of a contact deleted since is left out (it would fail the whole statement).
func (r *AutomationRepo) RecordAll(ctx context.Context, rs []domain.AutomaticReply) error {
	if len(rs) == 0 {
		return nil
	}
	n := len(rs)
	wss, triggers, names, contacts, numbers, ats := make([]domain.ID, n), make([]domain.ID, n), make([]string, n),
		make([]domain.ID, n), make([]string, n), make([]time.Time, n)
	for i, a := range rs {
		if a.MessageID != nil {
			return domain.Errorf(domain.KindInternal, "RecordAll takes handlings without a message")
		}
		wss[i], triggers[i], names[i], contacts[i], numbers[i], ats[i] = a.WorkspaceID, a.TriggerID, a.Automation, a.ContactID, a.PhoneNumberID, a.CreatedAt
	}
	_, err := r.q.Exec(ctx, `INSERT INTO automatic_replies (workspace_id, trigger_id, automation, contact_id, phone_number_id, created_at)
		SELECT x.ws, x.trigger_id, x.automation, x.contact_id, x.phone_number_id, x.created_at
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::timestamptz[])
			AS x (ws, trigger_id, automation, contact_id, phone_number_id, created_at)
		JOIN contacts c ON c.workspace_id = x.ws AND c.id = x.contact_id
		ORDER BY x.ws, x.trigger_id, x.automation
		ON CONFLICT DO NOTHING`, wss, triggers, names, contacts, numbers, ats)
	return err
}

// ConversationOf implements automation.Store.
func (r *AutomationRepo) ConversationOf(ctx context.Context, ws, contactID domain.ID, phoneNumberID string) (domain.ID, bool, error) {
	var id domain.ID
	err := r.q.QueryRow(ctx, `SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 AND phone_number_id = $3`,
		ws, contactID, phoneNumberID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return id, false, nil
	}
	return id, err == nil, err
}

// Record implements messaging.AutomaticReplies: a reply sent (a message); a row already
// there for the trigger and automation (or a welcome the contact already got) is
// KindConflict. The handlings that sent nothing are RecordAll's.
func (r *AutomationRepo) Record(ctx context.Context, a domain.AutomaticReply) error {
	_, err := r.q.Exec(ctx, `INSERT INTO automatic_replies (workspace_id, trigger_id, automation, contact_id, phone_number_id,
		message_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		a.WorkspaceID, a.TriggerID, a.Automation, a.ContactID, a.PhoneNumberID, a.MessageID, a.CreatedAt)
	if uniqueViolation(err, "") {
		return domain.Errorf(domain.KindConflict, "the automation already answered message %s", a.TriggerID)
	}
	return err
}
