package httpconsole

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The console hides what a role may not do from its own copy of the role table (app.js);
// it must say what the Casbin policy says, or a button would be missing or refused.
func TestConsolePermissionsFollowThePolicy(t *testing.T) {
	t.Parallel()
	policy, err := os.ReadFile("../casbinrbac/policy.csv")
	require.NoError(t, err)
	roles := map[string][]string{}
	for _, line := range strings.Split(string(policy), "\n") {
		f := strings.Split(line, ",")
		if len(f) != 5 || strings.TrimSpace(f[0]) != "p" {
			continue
		}
		perm := strings.TrimSpace(f[3]) + "." + strings.TrimSpace(f[4])
		roles[perm] = append(roles[perm], strings.TrimSpace(f[1])[:1])
	}
	app, err := files.ReadFile("web/js/app.js")
	require.NoError(t, err)
	entries := regexp.MustCompile(`'([a-z]+\.[a-z]+)': '([omav]+)'`).FindAllStringSubmatch(string(app), -1)
	require.NotEmpty(t, entries)
	for _, m := range entries {
		want, ok := roles[m[1]]
		require.True(t, ok, "app.js names %s, which the policy does not have", m[1])
		sort.Strings(want)
		got := strings.Split(m[2], "")
		sort.Strings(got)
		require.Equal(t, strings.Join(want, ""), strings.Join(got, ""), "roles of %s (o, m, a, v)", m[1])
	}
}

// can() fails closed on a permission the table does not have: every permission a screen
// asks about must be in it, or its button would vanish for every role.
func TestConsoleAsksOnlyForPermissionsOfTheTable(t *testing.T) {
	t.Parallel()
	app, err := files.ReadFile("web/js/app.js")
	require.NoError(t, err)
	table := map[string]bool{}
	for _, m := range regexp.MustCompile(`'([a-z]+\.[a-z]+)': '[omav]+'`).FindAllStringSubmatch(string(app), -1) {
		table[m[1]] = true
	}
	asks := regexp.MustCompile(`can\('([a-z]+\.[a-z]+)'\)|'[A-Z][^']*', '([a-z]+\.[a-z]+)'`)
	names, err := files.ReadDir("web/js")
	require.NoError(t, err)
	asked := 0
	for _, n := range names {
		b, err := files.ReadFile("web/js/" + n.Name())
		require.NoError(t, err)
		// can('x'), and the [key, 'Label', 'x'] tuples of the nav and the settings sections.
		for _, m := range asks.FindAllStringSubmatch(string(b), -1) {
			perm := m[1] + m[2]
			asked++
			require.True(t, table[perm], "%s asks can(%q), which app.js's table does not have", n.Name(), perm)
		}
	}
	require.NotZero(t, asked)
}
