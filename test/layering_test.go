package test

import (
	"os"
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
	// Meta's wire format lives at the edge (adapters/meta/webhook, which the prefix above
	// already forbids): no Meta webhook package may come back under domain or application.
	for _, gone := range []string{"../domain/webhook", "../application/webhook"} {
		_, err := os.Stat(gone)
		require.True(t, os.IsNotExist(err), "%s holds Meta's wire format, which belongs in adapters/meta", gone)
	}
	out, err := goList("-f", "{{.ImportPath}} {{.Name}}", "./domain/...", "./application/...").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, name, _ := strings.Cut(line, " ")
		require.False(t, name == "webhook" || strings.Contains(path, "/webhook"), "%s: Meta's webhooks are parsed in adapters/meta", path)
	}
	for _, layer := range []string{"./domain/...", "./application/..."} {
		out, err := goList("-deps", layer).CombinedOutput()
		require.NoError(t, err, string(out))
		for _, dep := range strings.Fields(string(out)) {
			require.NotEqual(t, "github.com/wabaplatform/waba/adapters/meta/webhook", dep, "%s imports Meta's wire types", layer)
		}
	}
	// domain imports only the standard library (and itself).
	out, err = goList("-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./domain/...").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		require.True(t, strings.HasPrefix(dep, "github.com/wabaplatform/waba/domain"), "domain imports %s", dep)
	}
}

// The layers' tests keep to the layers too: a use case is tested with domain values (the
// translation of Meta's bodies is tested in adapters/meta), so no _test.go file under
// domain or application imports an adapter, directly or through a test-support package.
func TestLayersKeepAdaptersOutOfTheirTests(t *testing.T) {
	t.Parallel()
	const adapters = "github.com/wabaplatform/waba/adapters"
	out, err := goList("-f", "{{.ImportPath}} {{join .TestImports \" \"}} {{join .XTestImports \" \"}}",
		"./domain/...", "./application/...").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, imp := range strings.Fields(imports) {
			require.False(t, imp == adapters || strings.HasPrefix(imp, adapters+"/"), "a test of %s imports %s", pkg, imp)
		}
	}
	out, err = goList("-test", "-deps", "./domain/...", "./application/...").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		require.False(t, dep == adapters || strings.HasPrefix(dep, adapters+"/"), "the tests of domain or application depend on %s", dep)
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

// A package is named for its folder, so an import path says what a file calls it.
func TestPackagesAreNamedForTheirFolders(t *testing.T) {
	t.Parallel()
	out, err := goList("-f", "{{.Name}} {{.ImportPath}}", "./...").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, path, _ := strings.Cut(line, " ")
		if name == "main" {
			continue
		}
		require.Equal(t, path[strings.LastIndex(path, "/")+1:], name, "package %s", path)
	}
}
