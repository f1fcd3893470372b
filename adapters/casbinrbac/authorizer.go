// Package casbinrbac answers "may this role do that in this workspace" with Casbin, from an
// embedded model and an embedded role -> permission table (policy.csv).
//
// Enforcement is on the role name itself, with no user -> role grouping rules: the caller
// looks up the member's (or API key's) role in Postgres and asks about that role. Casbin
// thus holds only the static table, so every replica answers the same without syncing.
package casbinrbac

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	stringadapter "github.com/casbin/casbin/v2/persist/string-adapter"

	"github.com/wabaplatform/waba/domain/access"
)

//go:embed model.conf
var modelText string

//go:embed policy.csv
var policyText string

// anyWorkspace is the policy domain that applies a rule in every workspace.
const anyWorkspace = "*"

// Authorizer decides permissions for roles. It is safe for concurrent use.
type Authorizer struct {
	e *casbin.SyncedEnforcer
	// matrix is the loaded policy as role -> permissions, in access.AllPermissions order.
	matrix map[access.Role][]access.Permission
}

// NewAuthorizer loads the embedded model and policy. It fails when the policy names a role
// or permission that domain/access does not declare, uses a domain other than "*", holds
// grouping rules, or has a line Casbin dropped (malformed or duplicate): each of those would
// otherwise surface only as a silent "forbidden".
func NewAuthorizer() (*Authorizer, error) {
	return newAuthorizer(modelText, policyText)
}

func newAuthorizer(modelText, policyText string) (*Authorizer, error) {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("casbin model: %w", err)
	}
	e, err := casbin.NewSyncedEnforcer(m, stringadapter.NewAdapter(policyText))
	if err != nil {
		return nil, fmt.Errorf("casbin enforcer: %w", err)
	}
	// The string adapter is read-only in practice (its RemovePolicy wipes the text); the
	// table never changes at runtime anyway.
	e.EnableAutoSave(false)

	matrix, err := readMatrix(e, countRules(policyText))
	if err != nil {
		return nil, fmt.Errorf("casbin policy: %w", err)
	}
	return &Authorizer{e: e, matrix: matrix}, nil
}

// countRules counts the rule lines of a policy text the way the string adapter reads it.
func countRules(text string) int {
	n := 0
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// readMatrix validates the loaded policy and turns it into role -> permissions. The string
// adapter ignores lines it cannot load, so wantRules catches lines that vanished.
func readMatrix(e *casbin.SyncedEnforcer, wantRules int) (map[access.Role][]access.Permission, error) {
	groups, err := e.GetGroupingPolicy()
	if err != nil {
		return nil, err
	}
	if len(groups) > 0 {
		return nil, fmt.Errorf("%d grouping (g) rules: the policy holds role permissions only", len(groups))
	}
	rules, err := e.GetPolicy()
	if err != nil {
		return nil, err
	}
	if len(rules) != wantRules {
		return nil, fmt.Errorf("%d rule lines but %d rules loaded: a line is malformed or duplicated", wantRules, len(rules))
	}
	if len(rules) == 0 {
		return nil, errors.New("no rules")
	}

	granted := make(map[access.Role]map[access.Permission]bool)
	for _, rule := range rules {
		if len(rule) != 4 {
			return nil, fmt.Errorf("rule %q: want role, domain, resource, verb", rule)
		}
		role, err := access.ParseRole(rule[0])
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", rule, err)
		}
		if rule[1] != anyWorkspace {
			return nil, fmt.Errorf("rule %q: domain must be %q", rule, anyWorkspace)
		}
		perm, err := access.ParsePermission(rule[2] + "." + rule[3])
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", rule, err)
		}
		if granted[role] == nil {
			granted[role] = make(map[access.Permission]bool)
		}
		granted[role][perm] = true
	}

	matrix := make(map[access.Role][]access.Permission, len(access.Roles()))
	for _, role := range access.Roles() {
		perms := []access.Permission{}
		for _, p := range access.AllPermissions() {
			if granted[role][p] {
				perms = append(perms, p)
			}
		}
		matrix[role] = perms
	}
	return matrix, nil
}

// Can reports whether role holds permission p in the workspace. It denies an empty
// workspace id (a missing tenant is a bug upstream, never a wildcard), an unknown role and
// an undeclared permission. Which rows of a resource the role sees is not decided here.
func (a *Authorizer) Can(role access.Role, workspaceID string, p access.Permission) bool {
	if workspaceID == "" {
		return false
	}
	ok, err := a.e.Enforce(string(role), workspaceID, p.Resource(), p.Verb())
	// Enforce fails only on a broken model, which NewAuthorizer would have refused: deny.
	return err == nil && ok
}

// Matrix returns each role's permissions as loaded from policy.csv, in
// access.AllPermissions order; every role is present, possibly with none. It is for
// documentation and the UI (Casbin does not expand "*"-domain rules per workspace itself).
// The caller owns the returned map and slices.
func (a *Authorizer) Matrix() map[access.Role][]access.Permission {
	out := make(map[access.Role][]access.Permission, len(a.matrix))
	for role, perms := range a.matrix {
		out[role] = append([]access.Permission{}, perms...)
	}
	return out
}
