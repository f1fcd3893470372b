package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
)

// Import implements contacts.Store. The rows stream by COPY into a temporary table, then
// one statement writes them all, so neither this process nor a round trip per row pays
// for the list's length:
//
//   - a phone's last row wins (DISTINCT ON phone, highest line);
//   - a new phone is inserted with the opt-outs the suppression list keeps for it
//     (suppressionState, as Create does);
//   - a known phone gets the row's non-empty name, its non-empty tags (replacing), and its
//     attributes merged key by key; opt-outs, assignee and the rest stay. A contact the row
//     would not change is not written at all (a re-import of the same list is cheap);
//   - a row whose attributes, merged into the contact's existing ones, would pass
//     domain.MaxAttributesBytes is refused. Postgres measures its own text form of the
//     object, a few bytes longer per key than the compact JSON the API measures, so near
//     the limit the import refuses slightly earlier than the API would.
//
// Rows are written in phone order, so two imports into one workspace lock contacts in the
// same order and cannot deadlock. It runs in a transaction of its own when q is not one (a
// savepoint otherwise).
func (r *ContactRepo) Import(ctx context.Context, ws domain.ID, rows contacts.ImportRows, now time.Time) (contacts.ImportCounts, error) {
	n, _, err := r.importRows(ctx, ws, rows, now, nil, nil)
	return n, err
}

// ImportRecipients implements campaigns.Importer: Import, calling lock once the rows are
// copied, whose statement also makes the contact of each row it accepts (created,
// updated or unchanged) a pending recipient of the campaign, once (a contact already one
// stays as it is), and moves the campaign's pending counter by the recipients it added
// (as Snapshot does). added counts them.
func (r *ContactRepo) ImportRecipients(ctx context.Context, ws, campaignID domain.ID, rows contacts.ImportRows, now time.Time,
	lock func(context.Context) error) (n contacts.ImportCounts, added int, err error) {
	return r.importRows(ctx, ws, rows, now, &campaignID, lock)
}

// recipientsOfImport is the part of the import's statement that takes its contacts into
// a campaign's recipients: the contacts the rows found ($5 is the campaign) and those
// the upsert created. The rows that found a contact (r.contact_id) include those the
// upsert leaves unchanged, which it does not return.
const recipientsOfImport = `,
	rc AS (
		INSERT INTO campaign_recipients (workspace_id, campaign_id, contact_id, status, updated_at)
		SELECT $1, $5, x.id, 'pending', $2 FROM (
			SELECT id FROM up UNION SELECT contact_id FROM rows WHERE NOT refused AND contact_id IS NOT NULL) x
		ORDER BY x.id
		ON CONFLICT DO NOTHING
		RETURNING 1),
	d AS (SELECT $1::uuid AS workspace_id, $5::uuid AS campaign_id, 'pending' AS status, count(*) AS n FROM rc),
	k AS (` + "%s" + `)`

// importRows is Import, and ImportRecipients when campaign is set; lock, when set, runs
// between the copy and the statement.
func (r *ContactRepo) importRows(ctx context.Context, ws domain.ID, rows contacts.ImportRows, now time.Time, campaign *domain.ID,
	lock func(context.Context) error) (contacts.ImportCounts, int, error) {
	var n contacts.ImportCounts
	var added int
	args := []any{ws, now, domain.MaxAttributesBytes, contacts.MaxImportReasons}
	recipients, addedCol := "", "0"
	if campaign != nil {
		args = append(args, *campaign)
		recipients, addedCol = fmt.Sprintf(recipientsOfImport, addCounts("0")), "(SELECT n FROM d)"
	}
	err := pgx.BeginFunc(ctx, r.q, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE contact_import (line int NOT NULL, id uuid NOT NULL,
			phone text NOT NULL, name text NOT NULL, tags text[] NOT NULL, attributes jsonb NOT NULL) ON COMMIT DROP`); err != nil {
			return err
		}
		src := &importSource{rows: rows}
		copied, err := tx.CopyFrom(ctx, pgx.Identifier{"contact_import"},
			[]string{"line", "id", "phone", "name", "tags", "attributes"}, src)
		if rerr := rows.Err(); rerr != nil {
			return rerr // the rows' own error, however COPY reported it
		}
		if err != nil {
			return fmt.Errorf("copy the imported rows: %w", err)
		}
		// Statistics, so the plan below fits the list's size (autovacuum never looks at a
		// temporary table).
		if _, err := tx.Exec(ctx, `ANALYZE contact_import`); err != nil {
			return err
		}
		if lock != nil {
			if err := lock(ctx); err != nil {
				return err
			}
		}
		var distinct, created, updated int
		err = tx.QueryRow(ctx, `
			WITH src AS (
				SELECT DISTINCT ON (phone) line, id, phone, name, tags, attributes
				FROM contact_import ORDER BY phone, line DESC),
			rows AS (
				SELECT s.*, c.id AS contact_id,
					coalesce(c.attributes <> '{}' AND octet_length((c.attributes || s.attributes)::text) > $3, false) AS refused
				FROM src s LEFT JOIN contacts c ON c.workspace_id = $1 AND c.phone = s.phone),
			sup AS (
				SELECT address, `+suppressionState+`
				FROM suppressions WHERE workspace_id = $1 GROUP BY address),
			up AS (
				INSERT INTO contacts AS c (workspace_id, id, phone, wa_id, name, tags, attributes, opted_out, opted_out_at,
					opt_out_source, marketing_opted_out, created_at, updated_at)
				SELECT $1, r.id, r.phone, substr(r.phone, 2), r.name, r.tags, r.attributes, x.opted_out_at IS NOT NULL,
					x.opted_out_at, x.source, coalesce(x.marketing, false), $2, $2
				FROM rows r LEFT JOIN sup x ON x.address = r.phone
				WHERE NOT r.refused
				ORDER BY r.phone
				ON CONFLICT (workspace_id, phone) WHERE phone IS NOT NULL DO UPDATE SET
					name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE c.name END,
					tags = CASE WHEN EXCLUDED.tags <> '{}' THEN EXCLUDED.tags ELSE c.tags END,
					attributes = c.attributes || EXCLUDED.attributes,
					updated_at = EXCLUDED.updated_at
				WHERE EXCLUDED.name NOT IN ('', c.name) OR EXCLUDED.tags NOT IN ('{}', c.tags)
					OR c.attributes || EXCLUDED.attributes <> c.attributes
				RETURNING c.id, c.xmax = 0 AS created)`+recipients+`
			SELECT (SELECT count(*) FROM rows), count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created),
				(SELECT count(*) FROM rows WHERE refused),
				(SELECT array_agg(line ORDER BY line) FROM (
					SELECT line FROM rows WHERE refused ORDER BY line LIMIT $4) l), `+addedCol+`
			FROM up`, args...,
		).Scan(&distinct, &created, &updated, &n.RefusedCount, &n.Refused, &added)
		if err != nil {
			return err
		}
		n.Created, n.Updated = created, updated
		n.Duplicates = int(copied) - distinct
		n.Unchanged = distinct - n.RefusedCount - created - updated
		_, err = tx.Exec(ctx, `DROP TABLE contact_import`) // its space now, not at the commit
		return err
	})
	return n, added, err
}

// importSource feeds COPY from the import's rows, one at a time.
type importSource struct {
	rows contacts.ImportRows
	vals []any
}

func (s *importSource) Next() bool { return s.rows.Next() }
func (s *importSource) Err() error { return s.rows.Err() }

func (s *importSource) Values() ([]any, error) {
	r := s.rows.Row()
	attrs := []byte("{}")
	if len(r.Attributes) > 0 {
		b, err := json.Marshal(r.Attributes)
		if err != nil {
			return nil, fmt.Errorf("line %d: attributes: %w", r.Line, err)
		}
		attrs = sanitizeJSONB(b)
	}
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	s.vals = append(s.vals[:0], r.Line, domain.NewID(), r.Phone, r.Name, tags, attrs)
	return s.vals, nil
}
