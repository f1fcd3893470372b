package harness

import (
	"context"
	"fmt"
)

// SeedHistory gives the workspaces earlier contacts, messages and conversations and analyzes them, as a
// database in service has. On empty tables that were never analyzed, the planner
// thinks every table empty, and the plans it caches in the first second (a status lookup
// by wamid through the workspace's index instead of the wamid's, say) stay until
// autovacuum's first analyze, a minute later: figures of that minute are not the
// steady state. Half the messages are outbound, `sent`, with wamids HistoryWAMID
// numbers from 0 in each workspace; it returns how many each workspace has at least, for
// the statuses of the load to report on.
func (db *DB) SeedHistory(ctx context.Context, n int) (outboundPerWorkspace int, err error) {
	_, err = db.Pool.Exec(ctx, `
		WITH ws AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS n FROM workspaces),
		c AS (
			INSERT INTO contacts (workspace_id, id, phone, wa_id, name, created_at, updated_at, last_inbound_at)
			SELECT ws.id, gen_random_uuid(), '+1999' || lpad(i::text, 7, '0'), '1999' || lpad(i::text, 7, '0'),
				'History ' || i, now() - interval '30 days', now() - interval '30 days', now() - interval '30 days'
			FROM generate_series(0, $1 / 10 - 1) i JOIN ws ON ws.k = i % ws.n
			RETURNING workspace_id, id),
		m AS (
			SELECT c.workspace_id, c.id AS contact_id, d,
				row_number() OVER (PARTITION BY c.workspace_id, d ORDER BY c.id, j) - 1 AS seq
			FROM c, generate_series(1, 10) j, LATERAL (SELECT CASE WHEN j % 2 = 0 THEN 'inbound' ELSE 'outbound' END AS d) dir)
		INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, status, wamid, created_at)
		SELECT workspace_id, gen_random_uuid(), contact_id, 'history', d, 'text', '{"body":"earlier"}',
			CASE d WHEN 'inbound' THEN 'received' ELSE 'sent' END,
			CASE d WHEN 'inbound' THEN 'wamid.HISTORY' || gen_random_uuid() ELSE 'wamid.HISTORY.' || workspace_id || '.' || seq END,
			now() - interval '30 days'
		FROM m`, n)
	if err != nil {
		return 0, fmt.Errorf("seed history: %w", err)
	}
	// Their threads, resolved, as the inbox left them.
	if _, err = db.Pool.Exec(ctx, `
		INSERT INTO conversations (workspace_id, id, contact_id, phone_number_id, status, unread_count, last_message_at,
			last_message_preview, last_inbound_at, service_window_expires_at, created_at, updated_at)
		SELECT workspace_id, gen_random_uuid(), id, 'history', 'resolved', 0, last_inbound_at, 'earlier',
			last_inbound_at, last_inbound_at + interval '24 hours', created_at, updated_at
		FROM contacts`); err != nil {
		return 0, fmt.Errorf("seed conversations: %w", err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT coalesce(min(n), 0) FROM (SELECT count(*) AS n FROM messages
		WHERE direction = 'outbound' GROUP BY workspace_id) w`).Scan(&outboundPerWorkspace); err != nil {
		return 0, err
	}
	_, err = db.Pool.Exec(ctx, `ANALYZE`)
	return outboundPerWorkspace, err
}
