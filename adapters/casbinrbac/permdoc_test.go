package casbinrbac

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain/access"
)

var update = flag.Bool("update", false, "rewrite docs/permissions.md from policy.csv")

const permissionsDoc = "../../docs/permissions.md"

func TestPermissionsDocIsCurrent(t *testing.T) {
	t.Parallel()

	want := RenderMarkdown(setup(t).auth)
	if *update {
		require.NoError(t, os.WriteFile(permissionsDoc, []byte(want), 0o644))
		return
	}

	got, err := os.ReadFile(permissionsDoc)
	require.NoError(t, err, "docs/permissions.md is missing; create it with: go test ./adapters/casbinrbac -run TestPermissionsDocIsCurrent -update")
	require.Equal(t, want, string(got),
		"docs/permissions.md is stale (policy.csv or domain/access changed); regenerate it with: go test ./adapters/casbinrbac -run TestPermissionsDocIsCurrent -update")
}

func TestRenderMarkdown(t *testing.T) {
	t.Parallel()

	md := RenderMarkdown(setup(t).auth)
	lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")

	require.Contains(t, md, "adapters/casbinrbac/policy.csv")
	require.Contains(t, md, "| permission | owner | manager | agent | viewer |\n|---|:---:|:---:|:---:|:---:|\n")
	require.Contains(t, md, "| `workspace.delete` | ✓ |  |  |  |\n")
	require.Contains(t, md, "| `messages.send` | ✓ | ✓ | ✓ |  |\n")
	require.Contains(t, md, "| `billing.read` | ✓ | ✓ |  | ✓ |\n")

	rows := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "| `") {
			rows++
			require.Equal(t, len(access.Roles())+2, strings.Count(l, "|"), l)
		}
	}
	require.Equal(t, len(access.AllPermissions()), rows)
}
