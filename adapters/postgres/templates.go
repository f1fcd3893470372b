package postgres

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/wabaplatform/waba/application/templates"
	"github.com/wabaplatform/waba/domain"
)

// TemplateRepo implements templates.Store and templates.Numbers.
type TemplateRepo struct{ q Querier }

// NewTemplateRepo returns a repository on q (a pool or a transaction).
func NewTemplateRepo(q Querier) *TemplateRepo { return &TemplateRepo{q: q} }

const templateColumns = `workspace_id, id, waba_id, meta_template_id, name, language, category, status, rejected_reason,
	quality_rating, parameter_format, components, created_at, updated_at, status_at, quality_at, category_at`

func scanTemplate(row pgx.CollectableRow) (domain.Template, error) {
	var t domain.Template
	var comps []byte
	err := row.Scan(&t.WorkspaceID, &t.ID, &t.WABAID, &t.MetaTemplateID, &t.Name, &t.Language, &t.Category, &t.Status,
		&t.RejectedReason, &t.QualityRating, &t.ParameterFormat, &comps, &t.CreatedAt, &t.UpdatedAt,
		&t.StatusAt, &t.QualityAt, &t.CategoryAt)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(comps, &t.Components); err != nil {
		return t, err
	}
	// jsonb writes its own spacing: give the examples back compact, as they were stored.
	for i := range t.Components {
		t.Components[i].Example = compact(t.Components[i].Example)
		for j := range t.Components[i].Buttons {
			t.Components[i].Buttons[j].Example = compact(t.Components[i].Buttons[j].Example)
		}
	}
	if t.Components == nil {
		t.Components = []domain.TemplateComponent{}
	}
	return t, nil
}

func compact(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

func componentsJSON(cs []domain.TemplateComponent) ([]byte, error) {
	if cs == nil {
		cs = []domain.TemplateComponent{}
	}
	b, err := json.Marshal(cs)
	return sanitizeJSONB(b), err
}

// Insert implements templates.Store: a name and language taken on that WABA in the
// workspace is KindConflict.
func (r *TemplateRepo) Insert(ctx context.Context, t domain.Template) error {
	comps, err := componentsJSON(t.Components)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, `INSERT INTO templates (`+templateColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		t.WorkspaceID, t.ID, t.WABAID, t.MetaTemplateID, t.Name, t.Language, t.Category, t.Status, t.RejectedReason,
		t.QualityRating, orPositional(t.ParameterFormat), comps, t.CreatedAt, t.UpdatedAt, t.StatusAt, t.QualityAt, t.CategoryAt)
	if uniqueViolation(err, "templates_ws_waba_name_language_key") {
		return domain.Errorf(domain.KindConflict, "a template with that name and language exists on that WABA")
	}
	return err
}

func orPositional(f string) string {
	if f == "" {
		return domain.ParametersPositional
	}
	return f
}

func (r *TemplateRepo) one(ctx context.Context, sql string, forUpdate bool, args ...any) (domain.Template, error) {
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	rows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return domain.Template{}, err
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanTemplate)
	return t, notFound(err, "template")
}

// Get implements templates.Store.
func (r *TemplateRepo) Get(ctx context.Context, ws, id domain.ID, forUpdate bool) (domain.Template, error) {
	return r.one(ctx, `SELECT `+templateColumns+` FROM templates WHERE workspace_id = $1 AND id = $2`, forUpdate, ws, id)
}

// ByName implements templates.Store.
func (r *TemplateRepo) ByName(ctx context.Context, ws domain.ID, wabaID, name, language string, forUpdate bool) (domain.Template, error) {
	return r.one(ctx, `SELECT `+templateColumns+` FROM templates
		WHERE waba_id = $2 AND name = $3 AND language = $4 AND workspace_id = $1`, forUpdate, ws, wabaID, name, language)
}

// List implements templates.Store: newest first.
func (r *TemplateRepo) List(ctx context.Context, ws domain.ID, f templates.Filter, limit int) ([]domain.Template, error) {
	w := &where{}
	w.add("workspace_id = $?", ws)
	for _, c := range []struct{ col, v string }{{"status", f.Status}, {"category", f.Category}, {"name", f.Name},
		{"language", f.Language}, {"waba_id", f.WABAID}} {
		if c.v != "" {
			w.add(c.col+" = $?", c.v)
		}
	}
	w.cursor("id < $?", f.Cursor)
	rows, err := r.q.Query(ctx, `SELECT `+templateColumns+` FROM templates WHERE `+w.sql()+` ORDER BY id DESC LIMIT `+w.next(),
		append(w.args, limit)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanTemplate)
}

// ListWABA implements templates.Store: one query, locked in id order when forUpdate.
func (r *TemplateRepo) ListWABA(ctx context.Context, ws domain.ID, wabaID string, forUpdate bool) ([]domain.Template, error) {
	sql := `SELECT ` + templateColumns + ` FROM templates WHERE waba_id = $2 AND workspace_id = $1 ORDER BY id DESC`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	rows, err := r.q.Query(ctx, sql, ws, wabaID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanTemplate)
}

// Update implements templates.Store.
func (r *TemplateRepo) Update(ctx context.Context, t domain.Template) error {
	comps, err := componentsJSON(t.Components)
	if err != nil {
		return err
	}
	_, err = r.q.Exec(ctx, `
		UPDATE templates SET meta_template_id = $3, category = $4, status = $5, rejected_reason = $6, quality_rating = $7,
			parameter_format = $8, components = $9, updated_at = $10, status_at = $11, quality_at = $12, category_at = $13
		WHERE workspace_id = $1 AND id = $2`,
		t.WorkspaceID, t.ID, t.MetaTemplateID, t.Category, t.Status, t.RejectedReason, t.QualityRating,
		orPositional(t.ParameterFormat), comps, t.UpdatedAt, t.StatusAt, t.QualityAt, t.CategoryAt)
	return err
}

// Delete implements templates.Store.
func (r *TemplateRepo) Delete(ctx context.Context, ws, id domain.ID) error {
	_, err := r.q.Exec(ctx, `DELETE FROM templates WHERE workspace_id = $1 AND id = $2`, ws, id)
	return err
}

// WABAs implements templates.Numbers.
func (r *TemplateRepo) WABAs(ctx context.Context, ws domain.ID) ([]string, error) {
	rows, err := r.q.Query(ctx, `SELECT DISTINCT waba_id FROM phone_numbers WHERE workspace_id = $1 AND status = 'connected'
		ORDER BY waba_id`, ws)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// AllWABAs implements templates.Numbers: the WABAs of connected numbers of workspaces
// that are not deleted.
func (r *TemplateRepo) AllWABAs(ctx context.Context) ([]templates.WABA, error) {
	rows, err := r.q.Query(ctx, `SELECT DISTINCT p.workspace_id, p.waba_id FROM phone_numbers p
		JOIN workspaces w ON w.id = p.workspace_id AND w.deleted_at IS NULL
		WHERE p.status = 'connected' ORDER BY p.workspace_id, p.waba_id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (templates.WABA, error) {
		var w templates.WABA
		return w, row.Scan(&w.WorkspaceID, &w.WABAID)
	})
}

// ConnectedNumber implements templates.Numbers: the oldest connected number of the WABA
// (none in a deleted workspace: its syncs stop at once).
func (r *TemplateRepo) ConnectedNumber(ctx context.Context, ws domain.ID, wabaID string) (domain.PhoneNumber, error) {
	p, err := NewPhoneNumberRepo(r.q).one(ctx, `SELECT `+phoneColumns+` FROM phone_numbers
		WHERE workspace_id = $1 AND waba_id = $2 AND status = 'connected'
			AND NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.id = $1 AND w.deleted_at IS NOT NULL)
		ORDER BY id LIMIT 1`, ws, wabaID)
	if domain.IsKind(err, domain.KindNotFound) {
		return p, domain.Errorf(domain.KindNotConnected, "no connected number of WABA %s in this workspace", wabaID)
	}
	return p, err
}
