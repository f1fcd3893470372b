// Package workspaces holds the workspace, member and API key use cases.
package workspaces

import (
	"context"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/application/mail"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// Store reads and writes workspaces, memberships and API keys.
type Store interface {
	CreateWorkspace(ctx context.Context, w domain.Workspace) error
	Workspace(ctx context.Context, id domain.ID) (domain.Workspace, error)
	UpdateWorkspace(ctx context.Context, w domain.Workspace) error
	UserByEmail(ctx context.Context, email string) (domain.User, error)
	AddMember(ctx context.Context, workspaceID, userID domain.ID, role access.Role, at time.Time) error // KindConflict when already a member
	Member(ctx context.Context, workspaceID, userID domain.ID) (domain.Member, error)
	// Members returns up to limit members, by user id ascending, with user ids above after
	// (from the first when after is the zero id).
	Members(ctx context.Context, workspaceID, after domain.ID, limit int) ([]domain.Member, error)
	SetMemberRole(ctx context.Context, workspaceID, userID domain.ID, role access.Role) error
	RemoveMember(ctx context.Context, workspaceID, userID domain.ID) error
	// LockOwners locks the workspace's owner memberships for the rest of the transaction
	// and returns how many there are, so two demotions cannot both pass the last-owner check.
	LockOwners(ctx context.Context, workspaceID domain.ID) (int, error)
	CreateAPIKey(ctx context.Context, k domain.APIKey) error
	// APIKeys returns up to limit active keys (without their hash), newest first, with ids
	// below before (from the newest when before is the zero id).
	APIKeys(ctx context.Context, workspaceID, before domain.ID, limit int) ([]domain.APIKey, error)
	RevokeAPIKey(ctx context.Context, workspaceID, id domain.ID, at time.Time) error // KindNotFound when absent or revoked
	// LockWorkspace reads the workspace and locks its row for the rest of the transaction;
	// a deleted one is KindNotFound, as it is to Workspace.
	LockWorkspace(ctx context.Context, id domain.ID) (domain.Workspace, error)
	// MarkWorkspaceDeleted sets the workspace's deletion time and removes every credential
	// into it (memberships, API keys, open invitations), so nothing reaches it from then on.
	MarkWorkspaceDeleted(ctx context.Context, id domain.ID, at time.Time) error
}

// Repos is what a transaction offers these use cases.
type Repos struct {
	Store       Store
	Events      events.Log
	Erasure     ErasureJobs
	Invitations Invitations
	Mail        mail.Queue
	Settings    MessagingSettingsStore
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Deps is what the workspace use cases are built from. The stores serve reads outside
// transactions; in a transaction Repos has their counterparts.
type Deps struct {
	Tx          TxRunner
	Store       Store
	Invitations Invitations
	Settings    MessagingSettingsStore
	Authz       authz.Authorizer
	Now         domain.Clock
	// LinkBase starts the links in invitation mail: the web console (PUBLIC_URL, or this
	// machine's address in development).
	LinkBase string
}

// Service is the workspace use cases.
type Service struct {
	tx          TxRunner
	store       Store
	invitations Invitations
	settings    MessagingSettingsStore
	authz       authz.Authorizer
	now         domain.Clock
	linkBase    string
}

// NewService returns the workspace use cases.
func NewService(d Deps) *Service {
	return &Service{tx: d.Tx, store: d.Store, invitations: d.Invitations, settings: d.Settings, authz: d.Authz, now: d.Now,
		linkBase: d.LinkBase}
}

// Create makes a workspace on the free plan with the creating user as its owner.
func (s *Service) Create(ctx context.Context, p domain.Principal, name string, meta domain.RequestMeta) (domain.Workspace, error) {
	if p.Type != domain.ActorUser {
		return domain.Workspace{}, domain.Errorf(domain.KindForbidden, "only users create workspaces")
	}
	var v domain.Validator
	v.Check(domain.ValidName(name, 100), "name", "must be 1 to 100 characters")
	if err := v.Err(); err != nil {
		return domain.Workspace{}, err
	}
	now := s.now().UTC()
	w := domain.Workspace{ID: domain.NewID(), Name: strings.TrimSpace(name), Plan: domain.PlanFree, CreatedAt: now, UpdatedAt: now}
	caller := domain.Caller{Type: p.Type, ID: p.ID, WorkspaceID: w.ID, Role: access.Owner, Meta: meta}
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		if err := r.Store.CreateWorkspace(ctx, w); err != nil {
			return err
		}
		if err := r.Store.AddMember(ctx, w.ID, p.ID, access.Owner, now); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(caller, now, domain.WorkspaceCreated{WorkspaceID: w.ID, Name: w.Name, Plan: w.Plan}))
	})
	return w, err
}

// Get returns the caller's workspace.
func (s *Service) Get(ctx context.Context, c domain.Caller) (domain.Workspace, error) {
	if err := authz.Require(s.authz, c, access.WorkspaceRead); err != nil {
		return domain.Workspace{}, err
	}
	return s.store.Workspace(ctx, c.WorkspaceID)
}

// UpdateInput changes a workspace; nil fields stay as they are.
type UpdateInput struct {
	Name *string
	// Plan is refused: plans are the operator's (SetPlan). It is here so that a client
	// sending one is told so, not silently ignored.
	Plan *string
}

// Update renames the workspace. A plan in the input is forbidden: plans are changed by the
// operator only (SetPlan), so no member can give their workspace a bigger one.
func (s *Service) Update(ctx context.Context, c domain.Caller, in UpdateInput) (domain.Workspace, error) {
	if err := authz.Require(s.authz, c, access.WorkspaceUpdate); err != nil {
		return domain.Workspace{}, err
	}
	if in.Plan != nil {
		return domain.Workspace{}, domain.Errorf(domain.KindForbidden, "the plan is changed by the operator of this platform, not through the workspace")
	}
	var v domain.Validator
	if in.Name != nil {
		v.Check(domain.ValidName(*in.Name, 100), "name", "must be 1 to 100 characters")
	}
	if err := v.Err(); err != nil {
		return domain.Workspace{}, err
	}
	var w domain.Workspace
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		var err error
		if w, err = r.Store.Workspace(ctx, c.WorkspaceID); err != nil {
			return err
		}
		if in.Name == nil || strings.TrimSpace(*in.Name) == w.Name {
			return nil
		}
		renamed := domain.WorkspaceRenamed{WorkspaceID: w.ID, Name: domain.FromTo[string]{From: w.Name, To: strings.TrimSpace(*in.Name)}}
		w.Name = strings.TrimSpace(*in.Name)
		w.UpdatedAt = s.now().UTC()
		if err := r.Store.UpdateWorkspace(ctx, w); err != nil {
			return err
		}
		return r.Events.Append(ctx, domain.Occurred(c, w.UpdatedAt, renamed))
	})
	return w, err
}

// SetPlan changes a workspace's plan: the operator's action (ADMIN_TOKEN), not a member's,
// so it takes no caller and is audited as the system's, from where the request came. The
// new limit applies at once.
func (s *Service) SetPlan(ctx context.Context, ws domain.ID, plan string, meta domain.RequestMeta) (domain.Workspace, error) {
	p, ok := domain.ParsePlan(plan)
	if !ok {
		return domain.Workspace{}, &domain.Error{Kind: domain.KindValidation, Message: "invalid plan",
			Fields: []domain.FieldError{{Field: "plan", Message: "must be free, pro or enterprise"}}}
	}
	var w domain.Workspace
	err := s.tx.InTx(ctx, func(ctx context.Context, r Repos) error {
		var err error
		if w, err = r.Store.Workspace(ctx, ws); err != nil || w.Plan == p {
			return err
		}
		changed := domain.WorkspacePlanChanged{WorkspaceID: ws, Plan: domain.FromTo[string]{From: string(w.Plan), To: string(p)}}
		w.Plan, w.UpdatedAt = p, s.now().UTC()
		if err := r.Store.UpdateWorkspace(ctx, w); err != nil {
			return err
		}
		operator := domain.Caller{Type: domain.ActorSystem, WorkspaceID: ws, Meta: meta}
		return r.Events.Append(ctx, domain.Occurred(operator, w.UpdatedAt, changed))
	})
	return w, err
}

// Members pages through the workspace's members, by user id; cursor is the user id of the
// last member of the previous page.
func (s *Service) Members(ctx context.Context, c domain.Caller, limit int, cursor domain.ID) (domain.Page[domain.Member], error) {
	if err := authz.Require(s.authz, c, access.MembersRead); err != nil {
		return domain.Page[domain.Member]{}, err
	}
	return domain.ReadPage(limit, func(n int) ([]domain.Member, error) { return s.store.Members(ctx, c.WorkspaceID, cursor, n) },
		func(m domain.Member) domain.ID { return m.UserID })
}

// grantNeedsOwner reports whether only an owner may hand out the role (API.md).
func grantNeedsOwner(r access.Role) bool { return r == access.Owner || r == access.Manager }

// checkGrant applies the rules of making someone a member, by adding or inviting them:
// the permission, a valid email and role, and only an owner grants owner or manager. It
// returns the normalized email and the role.
func (s *Service) checkGrant(c domain.Caller, email, role string) (string, access.Role, error) {
	if err := authz.Require(s.authz, c, access.MembersInvite); err != nil {
		return "", "", err
	}
	var v domain.Validator
	norm, ok := domain.NormalizeEmail(email)
	v.Check(ok, "email", "must be a valid email address")
	r, rerr := access.ParseRole(role)
	v.Check(rerr == nil, "role", "must be owner, manager, agent or viewer")
	if err := v.Err(); err != nil {
		return "", "", err
	}
	if grantNeedsOwner(r) && c.Role != access.Owner {
		return "", "", domain.Errorf(domain.KindForbidden, "only an owner grants the %s role", r)
	}
	return norm, r, nil
}

// AddMember adds a signed-up user by email.
func (s *Service) AddMember(ctx context.Context, c domain.Caller, email, role string) (domain.Member, error) {
	norm, r, err := s.checkGrant(c, email, role)
	if err != nil {
		return domain.Member{}, err
	}
	var m domain.Member
	err = s.tx.InTx(ctx, func(ctx context.Context, repos Repos) error {
		u, err := repos.Store.UserByEmail(ctx, norm)
		if err != nil {
			if domain.IsKind(err, domain.KindNotFound) {
				return domain.Errorf(domain.KindNotFound, "no user has signed up with that email")
			}
			return err
		}
		now := s.now().UTC()
		if err := repos.Store.AddMember(ctx, c.WorkspaceID, u.ID, r, now); err != nil {
			return err
		}
		m = domain.Member{WorkspaceID: c.WorkspaceID, UserID: u.ID, Email: u.Email, Name: u.Name, Role: r, CreatedAt: now}
		return repos.Events.Append(ctx, domain.Occurred(c, now, domain.MemberAdded{UserID: u.ID, Email: u.Email, Role: string(r)}))
	})
	return m, err
}

// ChangeRole sets a member's role. Only owners touch owners or grant owner/manager, and the
// last owner cannot be demoted.
func (s *Service) ChangeRole(ctx context.Context, c domain.Caller, userID domain.ID, role string) (domain.Member, error) {
	if err := authz.Require(s.authz, c, access.MembersUpdate); err != nil {
		return domain.Member{}, err
	}
	r, rerr := access.ParseRole(role)
	if rerr != nil {
		return domain.Member{}, &domain.Error{Kind: domain.KindValidation, Message: "invalid role",
			Fields: []domain.FieldError{{Field: "role", Message: "must be owner, manager, agent or viewer"}}}
	}
	var m domain.Member
	err := s.tx.InTx(ctx, func(ctx context.Context, repos Repos) error {
		owners, err := repos.Store.LockOwners(ctx, c.WorkspaceID)
		if err != nil {
			return err
		}
		if m, err = repos.Store.Member(ctx, c.WorkspaceID, userID); err != nil {
			return err
		}
		if (grantNeedsOwner(r) || m.Role == access.Owner) && c.Role != access.Owner {
			return domain.Errorf(domain.KindForbidden, "only an owner changes owners or grants the %s role", r)
		}
		if m.Role == r {
			return nil
		}
		if m.Role == access.Owner && owners <= 1 {
			return domain.Errorf(domain.KindLastOwner, "the workspace must keep at least one owner")
		}
		if err := repos.Store.SetMemberRole(ctx, c.WorkspaceID, userID, r); err != nil {
			return err
		}
		from := m.Role
		m.Role = r
		return repos.Events.Append(ctx, domain.Occurred(c, s.now(), domain.MemberRoleChanged{UserID: userID,
			Role: domain.FromTo[string]{From: string(from), To: string(r)}}))
	})
	return m, err
}

// RemoveMember removes a member; the last owner stays.
func (s *Service) RemoveMember(ctx context.Context, c domain.Caller, userID domain.ID) error {
	if err := authz.Require(s.authz, c, access.MembersRemove); err != nil {
		return err
	}
	return s.tx.InTx(ctx, func(ctx context.Context, repos Repos) error {
		owners, err := repos.Store.LockOwners(ctx, c.WorkspaceID)
		if err != nil {
			return err
		}
		m, err := repos.Store.Member(ctx, c.WorkspaceID, userID)
		if err != nil {
			return err
		}
		if m.Role == access.Owner && c.Role != access.Owner {
			return domain.Errorf(domain.KindForbidden, "only an owner removes an owner")
		}
		if m.Role == access.Owner && owners <= 1 {
			return domain.Errorf(domain.KindLastOwner, "the workspace must keep at least one owner")
		}
		if err := repos.Store.RemoveMember(ctx, c.WorkspaceID, userID); err != nil {
			return err
		}
		return repos.Events.Append(ctx, domain.Occurred(c, s.now(), domain.MemberRemoved{UserID: userID, Email: m.Email, Role: string(m.Role)}))
	})
}

// CreatedAPIKey is a new key with its secret, shown once.
type CreatedAPIKey struct {
	domain.APIKey
	Secret string
}

// CreateAPIKey issues a key bound to the workspace with a role no higher than the caller's.
func (s *Service) CreateAPIKey(ctx context.Context, c domain.Caller, name, role string) (CreatedAPIKey, error) {
	if err := authz.Require(s.authz, c, access.APIKeysCreate); err != nil {
		return CreatedAPIKey{}, err
	}
	var v domain.Validator
	v.Check(domain.ValidName(name, 100), "name", "must be 1 to 100 characters")
	r, rerr := access.ParseRole(role)
	v.Check(rerr == nil, "role", "must be owner, manager, agent or viewer")
	if err := v.Err(); err != nil {
		return CreatedAPIKey{}, err
	}
	if !c.Role.AtLeast(r) {
		return CreatedAPIKey{}, domain.Errorf(domain.KindForbidden, "a key cannot have a role above yours")
	}
	secret, hash := domain.NewAPIKeySecret()
	now := s.now().UTC()
	k := domain.APIKey{ID: domain.NewID(), WorkspaceID: c.WorkspaceID, Name: strings.TrimSpace(name), Role: r, Hash: hash, CreatedBy: c.ID, CreatedAt: now}
	err := s.tx.InTx(ctx, func(ctx context.Context, repos Repos) error {
		if err := repos.Store.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		return repos.Events.Append(ctx, domain.Occurred(c, now, domain.APIKeyCreated{KeyID: k.ID, Name: k.Name, Role: string(r)}))
	})
	return CreatedAPIKey{APIKey: k, Secret: secret}, err
}

// APIKeys pages through the workspace's active keys (never their secrets), newest first.
func (s *Service) APIKeys(ctx context.Context, c domain.Caller, limit int, cursor domain.ID) (domain.Page[domain.APIKey], error) {
	if err := authz.Require(s.authz, c, access.APIKeysRead); err != nil {
		return domain.Page[domain.APIKey]{}, err
	}
	return domain.ReadPage(limit, func(n int) ([]domain.APIKey, error) { return s.store.APIKeys(ctx, c.WorkspaceID, cursor, n) },
		func(k domain.APIKey) domain.ID { return k.ID })
}

// RevokeAPIKey revokes a key; it stops authenticating at once (every request looks it up).
func (s *Service) RevokeAPIKey(ctx context.Context, c domain.Caller, id domain.ID) error {
	if err := authz.Require(s.authz, c, access.APIKeysRevoke); err != nil {
		return err
	}
	return s.tx.InTx(ctx, func(ctx context.Context, repos Repos) error {
		now := s.now().UTC()
		if err := repos.Store.RevokeAPIKey(ctx, c.WorkspaceID, id, now); err != nil {
			return err
		}
		return repos.Events.Append(ctx, domain.Occurred(c, now, domain.APIKeyRevoked{KeyID: id}))
	})
}
