package test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// domain and application speak through ports: neither may import a framework or driver.
func TestLayersImportNoFrameworks(t *testing.T) {
	t.Parallel()
	forbidden := []string{
		"github.com/labstack/echo", "github.com/jackc/pgx", "github.com/riverqueue/river",
		"github.com/casbin/casbin", "github.com/ulule/limiter", "go.uber.org/fx",
		"github.com/wabaplatform/waba/adapters", "github.com/wabaplatform/waba/bootstrap",
	}
	for _, layer := range []string{"./domain/...", "./application/..."} {
		out, err := goList("-deps", layer).CombinedOutput()
		require.NoError(t, err, string(out))
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				require.False(t, strings.HasPrefix(dep, f), "%s imports %s", layer, dep)
			}
		}
	}
	// domain imports only the standard library (and itself).
	out, err := goList("-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./domain/...").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		require.True(t, strings.HasPrefix(dep, "github.com/wabaplatform/waba/domain"), "domain imports %s", dep)
	}
}

// The test-support packages (contactstest, messagingtest, authztest, pagetest ...) and
// testify are for _test.go files only: nothing the binary is built from imports them.
func TestTestSupportStaysOutOfBuilds(t *testing.T) {
	t.Parallel()
	out, err := goList("-deps", "./cmd/...", "./bootstrap/...").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		if !strings.HasPrefix(dep, "github.com/wabaplatform/waba/") && !strings.HasPrefix(dep, "github.com/stretchr/testify") {
			continue
		}
		require.False(t, strings.HasSuffix(dep, "test") || strings.HasPrefix(dep, "github.com/stretchr/testify"),
			"a production package depends on %s", dep)
	}
}

func goList(args ...string) *exec.Cmd {
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = ".." // the module root
	return cmd
}
