package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wabaplatform/waba/application/inbound"
	"github.com/wabaplatform/waba/domain"
)

// InboundRepo is the storage of webhook processing: routing lookups, contacts found or
// created from inbound messages, inbound messages and status reports, templates, number
// and account events, and their events in the log. Every write is idempotent or guarded so
// that processing a webhook twice changes nothing the second time.
type InboundRepo struct{ q Querier }

// NewInboundRepo returns the repository over q (a pool or a transaction).
func NewInboundRepo(q Querier) *InboundRepo { return &InboundRepo{q: q} }

// RouteByPhoneNumberID implements inbound.Directory. A number of a deleted workspace is
// routed nowhere: its webhooks are acknowledged and dropped until the erasure removes it.
func (r *InboundRepo) RouteByPhoneNumberID(ctx context.Context, phoneNumberID string) (inbound.Route, bool, error) {
	var rt inbound.Route
	err := r.q.QueryRow(ctx, `
		SELECT p.workspace_id, p.id, p.phone_number_id, p.waba_id, w.opt_out_keywords, w.opt_in_keywords, w.opt_out_confirmation, w.opt_in_confirmation
		FROM phone_numbers p JOIN workspaces w ON w.id = p.workspace_id
		WHERE p.phone_number_id = $1 AND w.deleted_at IS NULL`, phoneNumberID).Scan(&rt.WorkspaceID, &rt.ID, &rt.PhoneNumberID, &rt.WABAID,
		&rt.Settings.OptOutKeywords, &rt.Settings.OptInKeywords, &rt.Settings.OptOutConfirmation, &rt.Settings.OptInConfirmation)
	if errors.Is(err, pgx.ErrNoRows) {
		return rt, false, nil
	}
	return rt, err == nil, err
}

// NumbersByWABA implements inbound.Directory; numbers of deleted workspaces are left out.
func (r *InboundRepo) NumbersByWABA(ctx context.Context, wabaID string) ([]inbound.NumberInfo, error) {
	rows, err := r.q.Query(ctx, `SELECT p.workspace_id, p.id, p.phone_number_id, p.waba_id, p.display_phone_number
		FROM phone_numbers p JOIN workspaces w ON w.id = p.workspace_id
		WHERE p.waba_id = $1 AND w.deleted_at IS NULL ORDER BY p.created_at, p.id`, wabaID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (inbound.NumberInfo, error) {
		var n inbound.NumberInfo
		err := row.Scan(&n.WorkspaceID, &n.ID, &n.PhoneNumberID, &n.WABAID, &n.DisplayPhoneNumber)
		return n, err
	})
}

func (r *InboundRepo) lockContact(ctx context.Context, ws domain.ID, column, value string) (domain.Contact, bool, error) {
	rows, err := r.q.Query(ctx, `SELECT `+contactColumns+` FROM contacts WHERE workspace_id = $1 AND `+column+` = $2 FOR UPDATE`, ws, value)
	return optionalRow(rows, err, scanContact)
}

// FindOrCreate implements inbound.ContactStore: by phone ("+" + wa_id) first, then by
// BSUID; a missing phone, BSUID or name is filled in (never taken from another contact);
// a new contact is inserted with ON CONFLICT DO NOTHING and looked up again when a
// concurrent transaction created it first. A new contact starts with the opt-outs the
// suppression list keeps for its phone or BSUID.
func (r *InboundRepo) FindOrCreate(ctx context.Context, ws domain.ID, id inbound.Identity, now time.Time) (domain.Contact, bool, error) {
	phone := id.Phone
	for attempt := 0; attempt < 3; attempt++ {
		var c domain.Contact
		var ok bool
		var err error
		if phone != "" {
			if c, ok, err = r.lockContact(ctx, ws, "phone", phone); err != nil {
				return c, false, err
			}
		}
		bsuid := id.BSUID
		if !ok && bsuid != "" {
			if c, ok, err = r.lockContact(ctx, ws, "bsuid", bsuid); err != nil {
				return c, false, err
			}
			if ok && c.Phone != "" && phone != "" {
				// The BSUID is another number's contact: the phone decides, and the new
				// contact goes without the BSUID it cannot share.
				ok, bsuid = false, ""
			}
		}
		if ok {
			c, err = r.fillIn(ctx, c, phone, id)
			return c, false, err
		}
		rows, err := r.q.Query(ctx, `
			WITH `+suppressionOf+`
			INSERT INTO contacts (workspace_id, id, phone, wa_id, bsuid, name, opted_out, opted_out_at, opt_out_source,
				marketing_opted_out, created_at, updated_at)
			SELECT $1, $2, $3, $4, $5, $6, s.opted_out_at IS NOT NULL, s.opted_out_at, s.source, s.marketing, $7, $7 FROM s
			ON CONFLICT DO NOTHING
			RETURNING `+contactColumns,
			ws, domain.NewID(), nullIfEmpty(phone), nullIfEmpty(id.WaID), nullIfEmpty(bsuid), cleanText(id.Name), now)
		if err != nil {
			return c, false, err
		}
		c, err = pgx.CollectExactlyOneRow(rows, scanContact)
		if err == nil {
			return c, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return c, false, err
		}
		// Someone created it meanwhile: look again.
	}
	return domain.Contact{}, false, fmt.Errorf("contact for %q/%q: could not find or create", id.WaID, id.BSUID)
}

// fillIn completes c with what the message told us, without stealing a phone or BSUID
// another contact of the workspace already has.
func (r *InboundRepo) fillIn(ctx context.Context, c domain.Contact, phone string, id inbound.Identity) (domain.Contact, error) {
	setPhone := c.Phone == "" && phone != ""
	setBSUID := c.BSUID == "" && id.BSUID != ""
	name := cleanText(id.Name)
	setName := c.Name == "" && name != ""
	if !setPhone && !setBSUID && !setName {
		return c, nil
	}
	rows, err := r.q.Query(ctx, `
		UPDATE contacts c SET
			phone = CASE WHEN $3::text IS NOT NULL AND c.phone IS NULL AND NOT EXISTS (
				SELECT 1 FROM contacts o WHERE o.workspace_id = $1 AND o.phone = $3) THEN $3 ELSE c.phone END,
			wa_id = CASE WHEN $3::text IS NOT NULL AND c.phone IS NULL AND NOT EXISTS (
				SELECT 1 FROM contacts o WHERE o.workspace_id = $1 AND o.phone = $3) THEN $4 ELSE c.wa_id END,
			bsuid = CASE WHEN $5::text IS NOT NULL AND c.bsuid IS NULL AND NOT EXISTS (
				SELECT 1 FROM contacts o WHERE o.workspace_id = $1 AND o.bsuid = $5) THEN $5 ELSE c.bsuid END,
			name = CASE WHEN c.name = '' THEN $6 ELSE c.name END,
			updated_at = now()
		WHERE c.workspace_id = $1 AND c.id = $2
		RETURNING `+contactColumns,
		c.WorkspaceID, c.ID, ifSet(setPhone, phone), ifSet(setPhone, id.WaID), ifSet(setBSUID, id.BSUID), name)
	if err != nil {
		return c, err
	}
	if c, err = pgx.CollectExactlyOneRow(rows, scanContact); err != nil || (!setPhone && !setBSUID) {
		return c, err
	}
	return mergeSuppressions(ctx, r.q, c.WorkspaceID, c.ID)
}

// mergeSuppressions joins a contact that gained an address (a BSUID-only contact whose
// phone Meta now sends, or the reverse) with the suppression list: an opt-out kept under
// the new address applies to the contact, and the contact's own opt-outs are kept under
// the new address too.
func mergeSuppressions(ctx context.Context, q Querier, ws, id domain.ID) (domain.Contact, error) {
	rows, err := q.Query(ctx, `
		WITH s AS (
			SELECT min(x.created_at) FILTER (WHERE x.scope = 'all') AS opted_out_at,
				coalesce(max(x.source) FILTER (WHERE x.scope = 'all' AND x.source <> 'api'),
					max(x.source) FILTER (WHERE x.scope = 'all')) AS source,
				coalesce(bool_or(x.scope = 'marketing'), false) AS marketing
			FROM contacts c JOIN suppressions x ON x.workspace_id = c.workspace_id AND x.address IN (c.phone, c.bsuid)
			WHERE c.workspace_id = $1 AND c.id = $2),
		c AS (
			UPDATE contacts c SET
				opted_out = c.opted_out OR s.opted_out_at IS NOT NULL,
				opted_out_at = CASE WHEN c.opted_out THEN c.opted_out_at ELSE s.opted_out_at END,
				opt_out_source = CASE WHEN c.opted_out THEN c.opt_out_source ELSE s.source END,
				marketing_opted_out = c.marketing_opted_out OR s.marketing
			FROM s WHERE c.workspace_id = $1 AND c.id = $2
			RETURNING c.*),
		kept AS (
			INSERT INTO suppressions (workspace_id, address, scope, source, created_at)
			SELECT c.workspace_id, a.address, v.scope, v.source, v.at
			FROM c, unnest(ARRAY[c.phone, c.bsuid]) AS a (address),
				LATERAL (VALUES ('all', c.opt_out_source, c.opted_out_at, c.opted_out),
					('marketing', 'meta', c.updated_at, c.marketing_opted_out)) AS v (scope, source, at, active)
			WHERE a.address IS NOT NULL AND v.active
			ON CONFLICT DO NOTHING)
		SELECT `+contactColumns+` FROM c`, ws, id)
	if err != nil {
		return domain.Contact{}, err
	}
	return pgx.CollectExactlyOneRow(rows, scanContact)
}

func ifSet(ok bool, v string) *string {
	if !ok || v == "" {
		return nil
	}
	return &v
}

// SetOptOut implements inbound.ContactStore: a keyword opt-out, kept in the suppression
// list too.
func (r *InboundRepo) SetOptOut(ctx context.Context, ws, contactID domain.ID, optedOut bool, at time.Time) error {
	_, err := setOptOut(ctx, r.q, ws, contactID, optedOut, domain.OptOutKeyword, at)
	return err
}

// SetMarketingOptOut implements inbound.ContactStore.
func (r *InboundRepo) SetMarketingOptOut(ctx context.Context, ws, contactID domain.ID, value bool) (bool, error) {
	return setMarketingOptOut(ctx, r.q, ws, contactID, value)
}

// WAMIDExists implements inbound.MessageStore.
func (r *InboundRepo) WAMIDExists(ctx context.Context, wamid string) (bool, error) {
	var ok bool
	err := r.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE wamid = $1)`, wamid).Scan(&ok)
	return ok, err
}

// ReceiveInbound implements inbound.MessageStore: one statement whose later parts act
// only on the row the insert returned, so a wamid already stored changes nothing. The
// row keeps the type object in content (what the API shows) and Meta's whole message in
// raw.
func (r *InboundRepo) ReceiveInbound(ctx context.Context, m domain.Message, touch bool, ev domain.Occurrence) (bool, error) {
	content := m.Content
	if len(content) == 0 {
		content = json.RawMessage(`{}`)
	}
	evArgs, err := unauditedArgs(ev)
	if err != nil {
		return false, err
	}
	var inserted bool
	err = r.q.QueryRow(ctx, `
		WITH m AS (
			INSERT INTO messages (workspace_id, id, contact_id, phone_number_id, direction, type, content, raw, status, wamid, created_at)
			VALUES ($1, $2, $3, $4, 'inbound', $5, $6, $11, 'received', $7, $8)
			ON CONFLICT (wamid) WHERE wamid IS NOT NULL DO NOTHING
			RETURNING workspace_id, contact_id),
		touched AS (
			UPDATE contacts c SET last_inbound_at = GREATEST(c.last_inbound_at, $8),
				service_window_expires_at = GREATEST(c.service_window_expires_at, $9), updated_at = now()
			FROM m WHERE $10::boolean AND c.workspace_id = m.workspace_id AND c.id = m.contact_id),
		ev AS (
			INSERT INTO events (`+eventColumns+`) SELECT `+params(12, len(evArgs))+` FROM m)
		SELECT EXISTS (SELECT 1 FROM m)`,
		append([]any{m.WorkspaceID, m.ID, m.ContactID, m.PhoneNumberID, cleanText(m.Type), sanitizeJSONB(content), m.WAMID, m.CreatedAt,
			m.CreatedAt.Add(domain.ServiceWindow), touch, rawOrNil(m.Raw)}, evArgs...)...).Scan(&inserted)
	return inserted, err
}

// RecordStatus implements inbound.MessageStore: the insert and the locking read go in
// one batch. The read runs for a duplicate report too; its lock is then merely early.
func (r *InboundRepo) RecordStatus(ctx context.Context, workspaceID domain.ID, s domain.StatusReport) (fresh bool, m domain.Message, ok bool, err error) {
	var ws *domain.ID
	if !workspaceID.IsZero() {
		ws = &workspaceID
	}
	var b pgx.Batch
	b.Queue(`
		INSERT INTO message_statuses (wamid, status, workspace_id, occurred_at, errors, pricing)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		s.WAMID, s.Status, ws, s.At, rawOrNil(s.Errors), rawOrNil(s.Pricing)).Exec(func(tag pgconn.CommandTag) error {
		fresh = tag.RowsAffected() == 1
		return nil
	})
	// Through the wamid's unique index, always: the workspace is compared in a form no
	// index serves (IS NOT DISTINCT FROM; workspace_id is never NULL, so a NULL $1 still
	// finds nothing), because a workspace the statistics do not know yet (a new one, or one
	// that grew since the last analyze) looks like one row to the planner, which then took
	// an index on workspace_id as good and read all of the workspace's messages a report.
	b.Queue(`SELECT `+messageColumns+` FROM messages
		WHERE workspace_id IS NOT DISTINCT FROM $1 AND wamid = $2 AND direction = 'outbound' FOR UPDATE`, ws, s.WAMID).Query(func(rows pgx.Rows) error {
		m, ok, err = optionalRow(rows, nil, scanMessage)
		return err
	})
	if err := r.q.SendBatch(ctx, &b).Close(); err != nil {
		return false, domain.Message{}, false, err
	}
	return fresh, m, ok, nil
}

// rawOrNil is a jsonb parameter: NULL when empty, sanitized otherwise.
func rawOrNil(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return nil
	}
	return sanitizeJSONB(raw)
}

// LinkOutbound implements inbound.MessageStore.
func (r *InboundRepo) LinkOutbound(ctx context.Context, ws, id domain.ID, wamid string) (domain.Message, bool, error) {
	rows, err := r.q.Query(ctx, `UPDATE messages SET wamid = $3
		WHERE workspace_id = $1 AND id = $2 AND direction = 'outbound' AND wamid IS NULL
			AND NOT EXISTS (SELECT 1 FROM messages WHERE wamid = $3) -- a violation would abort the whole job's transaction
		RETURNING `+messageColumns, ws, id, wamid)
	return optionalRow(rows, err, scanMessage)
}

// UpdateDelivery implements inbound.MessageStore: the update and the event in one
// statement.
func (r *InboundRepo) UpdateDelivery(ctx context.Context, m domain.Message, ev domain.Occurrence) error {
	code, title, detail := errorColumns(m.Error)
	evArgs, err := unauditedArgs(ev)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, `
		WITH m AS (
			UPDATE messages SET status = $3, sent_at = $4, delivered_at = $5, read_at = $6, failed_at = $7,
				error_code = $8, error_title = $9, error_detail = $10, pricing = $11
			WHERE workspace_id = $1 AND id = $2)
		INSERT INTO events (`+eventColumns+`) VALUES (`+params(12, len(evArgs))+`)`,
		append([]any{m.WorkspaceID, m.ID, string(m.Status), m.SentAt, m.DeliveredAt, m.ReadAt, m.FailedAt,
			code, title, detail, rawOrNil(m.Pricing)}, evArgs...)...)
	return err
}

// HoldMarketing implements inbound.MessageStore.
func (r *InboundRepo) HoldMarketing(ctx context.Context, ws, contactID domain.ID, until time.Time) error {
	return holdMarketing(ctx, r.q, ws, contactID, until)
}

// UpdateNumber implements inbound.AccountStore.
func (r *InboundRepo) UpdateNumber(ctx context.Context, ws, id domain.ID, ch inbound.NumberChange) error {
	_, err := r.q.Exec(ctx, `
		UPDATE phone_numbers SET
			messaging_limit_tier = coalesce(nullif($3, ''), messaging_limit_tier),
			quality_rating = coalesce(nullif($4, ''), quality_rating),
			verified_name = coalesce(nullif($5, ''), verified_name),
			name_status = coalesce(nullif($6, ''), name_status),
			status = coalesce(nullif($7, ''), status),
			failure_reason = CASE WHEN $7 <> '' THEN $8 ELSE failure_reason END,
			updated_at = now()
		WHERE workspace_id = $1 AND id = $2`,
		ws, id, ch.MessagingLimitTier, ch.QualityRating, ch.VerifiedName, ch.NameStatus, string(ch.Status), ch.FailureReason)
	return err
}

// RecordAccountEvent implements inbound.AccountStore; a redelivered event (same id) is
// kept once.
func (r *InboundRepo) RecordAccountEvent(ctx context.Context, e inbound.AccountEvent) error {
	_, err := r.q.Exec(ctx, `
		INSERT INTO account_events (id, workspace_id, waba_id, field, event, payload, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.WorkspaceID, e.WABAID, e.Field, cleanText(e.Event), sanitizeJSONB(e.Payload), e.At)
	return err
}
