package casbinrbac

import (
	"slices"
	"strings"

	"github.com/wabaplatform/waba/domain/access"
)

// RenderMarkdown renders the loaded policy as docs/permissions.md: one row per permission,
// one column per role. Generating the page keeps it from drifting from policy.csv; a test
// fails when the committed page is stale.
func RenderMarkdown(a *Authorizer) string {
	matrix := a.Matrix()
	roles := access.Roles()

	var b strings.Builder
	b.WriteString("# Permissions\n\n")
	b.WriteString("Generated from `adapters/casbinrbac/policy.csv`; do not edit by hand. After changing the " +
		"policy, regenerate with `go test ./adapters/casbinrbac -run TestPermissionsDocIsCurrent -update` " +
		"(that test fails while this page is stale). A role applies within one workspace. Three rules " +
		"live outside this table: only an owner may grant the owner or manager role, by adding a " +
		"member or by an invitation (and nobody may create an API key with a role above their own); " +
		"an agent sees only the contacts assigned to them; and a workspace is deleted by a user, " +
		"never by an API key, whatever its role.\n\n")

	b.WriteString("| permission |")
	for _, r := range roles {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|")
	for range roles {
		b.WriteString(":---:|")
	}
	b.WriteString("\n")

	for _, p := range access.AllPermissions() {
		b.WriteString("| `" + string(p) + "` |")
		for _, r := range roles {
			if slices.Contains(matrix[r], p) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString("  |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
