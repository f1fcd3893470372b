package sandbox_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The sandbox is an independent oracle of Meta's rules: it imports nothing of the product.
func TestSandboxSharesNoCodeWithTheProduct(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/wabaplatform/waba/") {
			require.Equal(t, "github.com/wabaplatform/waba/adapters/meta/sandbox", dep, "the sandbox imports %s", dep)
		}
	}
}
