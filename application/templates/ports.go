package templates

import (
	"context"

	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// Filter narrows a list; empty fields do not filter.
type Filter struct {
	Status   string
	Category string
	Name     string
	Language string
	WABAID   string
	// Cursor is the id of the last template of the previous page (newest first).
	Cursor domain.ID
}

// Store keeps a workspace's templates.
type Store interface {
	// Insert stores a new template; KindConflict when its WABA already has that name and
	// language.
	Insert(ctx context.Context, t domain.Template) error
	// Get returns one template (KindNotFound when none); forUpdate locks it.
	Get(ctx context.Context, workspaceID, id domain.ID, forUpdate bool) (domain.Template, error)
	// ByName finds the template of a WABA by name and language (KindNotFound when none);
	// forUpdate locks it.
	ByName(ctx context.Context, workspaceID domain.ID, wabaID, name, language string, forUpdate bool) (domain.Template, error)
	// List returns up to limit templates matching f, newest first, below f.Cursor.
	List(ctx context.Context, workspaceID domain.ID, f Filter, limit int) ([]domain.Template, error)
	// ListWABA returns every template of one WABA of the workspace in one query;
	// forUpdate locks them.
	ListWABA(ctx context.Context, workspaceID domain.ID, wabaID string, forUpdate bool) ([]domain.Template, error)
	// Update writes every field Meta may change (status, quality, category, their times,
	// the reason, the content, updated_at).
	Update(ctx context.Context, t domain.Template) error
	Delete(ctx context.Context, workspaceID, id domain.ID) error
}

// WABA names one WhatsApp Business Account of a workspace.
type WABA struct {
	WorkspaceID domain.ID
	WABAID      string
}

// Numbers answers what templates need to know of the workspace's numbers: Meta is
// called with the token of a connected number of the WABA.
type Numbers interface {
	// WABAs lists the distinct WABAs of the workspace's connected numbers, sorted.
	WABAs(ctx context.Context, workspaceID domain.ID) ([]string, error)
	// AllWABAs lists every (workspace, WABA) with a connected number (the periodic sync).
	AllWABAs(ctx context.Context) ([]WABA, error)
	// ConnectedNumber returns a connected number of the WABA in the workspace (the oldest);
	// KindNotConnected when there is none.
	ConnectedNumber(ctx context.Context, workspaceID domain.ID, wabaID string) (domain.PhoneNumber, error)
}

// Graph is the part of Meta's Graph API templates use. Failures are *domain.MetaError.
type Graph interface {
	// CreateTemplate submits d for review; the answer has MetaTemplateID, Status and
	// Category as Meta answered.
	CreateTemplate(ctx context.Context, token, wabaID string, d domain.TemplateDraft) (domain.Template, error)
	// DeleteTemplate deletes the template (name and Meta's id) at Meta; nil when Meta no
	// longer has it.
	DeleteTemplate(ctx context.Context, token, wabaID, name, metaTemplateID string) error
	// ListTemplates reads every template of the WABA, following Meta's pages. The
	// templates carry Meta's fields only (no ids, workspace or times of ours).
	ListTemplates(ctx context.Context, token, wabaID string) ([]domain.Template, error)
}

// Vault opens sealed access tokens.
type Vault interface {
	Open(ctx context.Context, s domain.Sealed, b domain.SecretBinding) ([]byte, error)
}

// Jobs enqueues template work in the current transaction.
type Jobs interface {
	// EnqueueTemplateSync queues a sync of one WABA's templates from Meta.
	EnqueueTemplateSync(ctx context.Context, workspaceID domain.ID, wabaID string) error
}

// Repos is what a transaction offers these use cases.
type Repos struct {
	Templates Store
	Events    events.Log
	Jobs      Jobs
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}
