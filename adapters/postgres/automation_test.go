package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
	"github.com/wabaplatform/waba/application/automation"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
)

var (
	_ automation.Store           = (*postgres.AutomationRepo)(nil)
	_ automation.SettingsWriter  = (*postgres.AutomationRepo)(nil)
	_ automation.RuleWriter      = (*postgres.AutomationRepo)(nil)
	_ messaging.AutomaticReplies = (*postgres.AutomationRepo)(nil)
)

func TestAutomationRepo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ws := createWorkspace(t, postgres.NewWorkspaceRepo(pool), "Auto").ID
	repo := postgres.NewAutomationRepo(pool)
	t0 := now()

	// Settings: none, then hours and the away message, read back as set.
	st, err := repo.Settings(ctx, ws)
	require.NoError(t, err)
	require.False(t, st.Hours.Configured())
	w, err := domain.ParseWorkingHours("Europe/Madrid", map[string][]domain.Interval{"mon": {{From: "09:00", To: "14:00"}}}, []string{"2026-12-25"})
	require.NoError(t, err)
	require.NoError(t, repo.SetAutoReply(ctx, ws, domain.AutomationAway, domain.AutoReply{Enabled: true, Text: "closed"}, t0))
	require.NoError(t, repo.SetWorkingHours(ctx, ws, w, t0))
	st, err = repo.Settings(ctx, ws)
	require.NoError(t, err)
	require.Equal(t, "Europe/Madrid", st.Hours.Timezone)
	require.Equal(t, w.Days, st.Hours.Days)
	require.Equal(t, []string{"2026-12-25"}, st.Hours.Holidays)
	require.Equal(t, domain.AutoReply{Enabled: true, Text: "closed"}, st.Away)
	require.False(t, st.Welcome.Enabled)

	// Rules round trip, actions and all.
	user := domain.NewID()
	r := domain.Rule{ID: domain.NewID(), WorkspaceID: ws, Name: "r", Match: domain.MatchRegex, Keywords: []string{`^\d+$`}, Priority: 3,
		Enabled: true, CreatedAt: t0, UpdatedAt: t0, Actions: []domain.Action{{Type: domain.ActionAssign, UserID: &user},
			{Type: domain.ActionSetAttribute, Key: "n", Value: 2.0}, {Type: domain.ActionReplyTemplate, Template: []byte(`{"name":"t","language":"en"}`)}}}
	n, err := repo.LockRules(ctx, ws)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, repo.CreateRule(ctx, r))
	got, err := repo.Rule(ctx, ws, r.ID)
	require.NoError(t, err)
	require.Equal(t, r.Actions[0].UserID, got.Actions[0].UserID)
	require.Equal(t, 2.0, got.Actions[1].Value)
	require.JSONEq(t, `{"name":"t","language":"en"}`, string(got.Actions[2].Template))
	require.Equal(t, r.Keywords, got.Keywords)
	_, err = repo.Rule(ctx, domain.NewID(), r.ID)
	requireKind(t, domain.KindNotFound, err)

	// A trigger: the contact's state and the rails' memory.
	c := domain.Contact{ID: domain.NewID(), WorkspaceID: ws, Phone: "+14155550188", WaID: "14155550188", Tags: []string{},
		Attributes: map[string]any{}, CreatedAt: t0, UpdatedAt: t0}
	_, err = postgres.NewContactRepo(pool).Create(ctx, c)
	require.NoError(t, err)
	inb := postgres.NewInboundRepo(pool)
	msg := func(at time.Time) domain.Message {
		m := domain.Message{ID: idAt(at), WorkspaceID: ws, ContactID: c.ID, PhoneNumberID: "pn", Direction: domain.Inbound, Type: "text",
			Content: []byte(`{"body":"hi"}`), Status: domain.StatusReceived, WAMID: "wamid." + domain.NewID().String(), CreatedAt: at}
		_, err := inb.ReceiveInbound(ctx, m, true, received(m))
		require.NoError(t, err)
		return m
	}
	first := msg(t0)
	tr, ok, err := repo.Trigger(ctx, ws, first.ID, t0.Add(-time.Hour))
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, tr.WroteBefore)
	require.NotNil(t, tr.WindowExpiresAt)
	require.JSONEq(t, `{"body":"hi"}`, string(tr.Content))

	sent := domain.NewID()
	reply := domain.AutomaticReply{WorkspaceID: ws, TriggerID: first.ID, Automation: domain.AutomationAway, ContactID: c.ID,
		PhoneNumberID: "pn", MessageID: &sent, CreatedAt: t0}
	require.NoError(t, repo.Record(ctx, reply))
	requireKind(t, domain.KindConflict, repo.Record(ctx, reply))
	skipped := reply
	skipped.Automation, skipped.MessageID = r.ID.String(), nil
	require.NoError(t, repo.RecordAll(ctx, []domain.AutomaticReply{skipped}))
	require.NoError(t, repo.RecordAll(ctx, []domain.AutomaticReply{skipped}), "a record without a message is kept once")

	second := msg(t0.Add(time.Second))
	tr, ok, err = repo.Trigger(ctx, ws, second.ID, t0.Add(-time.Hour))
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, tr.WroteBefore)
	require.Equal(t, 1, tr.RepliesSince, "the skipped record is no reply")
	require.Equal(t, t0, tr.LastAway.UTC())
	require.Empty(t, tr.Done)
	tr, _, err = repo.Trigger(ctx, ws, first.ID, t0.Add(time.Minute))
	require.NoError(t, err)
	require.Zero(t, tr.RepliesSince, "older than the hour")
	require.ElementsMatch(t, []string{domain.AutomationAway, r.ID.String()}, tr.Done)
	_, ok, err = repo.Trigger(ctx, ws, domain.NewID(), t0)
	require.NoError(t, err)
	require.False(t, ok)

	// Triggers: the same rows for many messages at once; a missing one is left out.
	all, err := repo.Triggers(ctx, ws, []domain.ID{first.ID, second.ID, domain.NewID()}, t0.Add(-time.Hour))
	require.NoError(t, err)
	require.Len(t, all, 2)
	one, _, err := repo.Trigger(ctx, ws, second.ID, t0.Add(-time.Hour))
	require.NoError(t, err)
	require.Equal(t, one, all[second.ID])
	require.ElementsMatch(t, []string{domain.AutomationAway, r.ID.String()}, all[first.ID].Done)
	none, err := repo.Triggers(ctx, domain.NewID(), []domain.ID{first.ID}, t0)
	require.NoError(t, err)
	require.Empty(t, none, "another workspace's message is not read")

	// RecordAll: many handlings in one statement; one already there and one of a contact
	// that does not exist are left out.
	third := msg(t0.Add(2 * time.Second))
	rs := []domain.AutomaticReply{skipped,
		{WorkspaceID: ws, TriggerID: third.ID, Automation: "rule-a", ContactID: c.ID, PhoneNumberID: "pn", CreatedAt: t0},
		{WorkspaceID: ws, TriggerID: third.ID, Automation: "rule-b", ContactID: c.ID, PhoneNumberID: "pn", CreatedAt: t0},
		{WorkspaceID: ws, TriggerID: third.ID, Automation: "rule-c", ContactID: domain.NewID(), PhoneNumberID: "pn", CreatedAt: t0}}
	require.NoError(t, repo.RecordAll(ctx, rs))
	require.NoError(t, repo.RecordAll(ctx, nil))
	tr, _, err = repo.Trigger(ctx, ws, third.ID, t0.Add(-time.Hour))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"rule-a", "rule-b"}, tr.Done)
	require.Equal(t, 1, tr.RepliesSince, "handlings without a message are no replies")
	require.NotNil(t, tr.Tags)
}
