package test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/domain"
)

// fixtureTemplate is a template the harness puts on a connected number's WABA.
type fixtureTemplate struct {
	name, category, status, format string
	components                     string // Graph's components array
	metaToo                        bool   // also in the sandbox WABA (else Meta refuses it: 132001)
}

// fixtureTemplates are what the tests send: hello_world (every sandbox WABA has it),
// order_update (UTILITY), summer_sale (MARKETING), no_such_template (in our catalogue only,
// so the send passes our check and Meta refuses it), and ones with parameters.
var fixtureTemplates = []fixtureTemplate{
	{name: "hello_world", category: "UTILITY", components: `[{"type":"BODY","text":"Hello World"}]`},
	{name: "order_update", category: "UTILITY", components: `[{"type":"BODY","text":"Your order was updated"}]`, metaToo: true},
	{name: "summer_sale", category: "MARKETING", components: `[{"type":"BODY","text":"Summer sale: 20% off"}]`, metaToo: true},
	{name: "no_such_template", category: "UTILITY", components: `[{"type":"BODY","text":"Never at Meta"}]`},
	{name: "order_shipped", category: "UTILITY", metaToo: true,
		components: `[{"type":"HEADER","format":"TEXT","text":"Order {{1}}"},{"type":"BODY","text":"Hi {{1}}, order {{2}} shipped"},` +
			`{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track","url":"https://shop.test/t/{{1}}"}]}]`},
	{name: "welcome_named", category: "MARKETING", format: "named", metaToo: true,
		components: `[{"type":"BODY","text":"Hi {{first_name}}, use {{code}}"}]`},
	{name: "paused_promo", category: "MARKETING", status: "PAUSED", components: `[{"type":"BODY","text":"Paused"}]`, metaToo: true},
}

// seedTemplates puts the fixture templates in the workspace's catalogue for wabaID, as a
// sync would write them, and in the sandbox WABA when sb is set.
func seedTemplates(t testing.TB, a *App, ws, wabaID string, sb *sandbox.Sandbox) {
	t.Helper()
	// A connected number's templates are synced from Meta; wait for that sync (it brings
	// hello_world, which every sandbox WABA has) so it cannot remove, as gone from Meta, a
	// fixture that is only in our catalogue.
	if sb != nil {
		eventually(t, 20*time.Second, func() bool {
			var n int
			require.NoError(t, a.Pool.QueryRow(context.Background(),
				`SELECT count(*) FROM templates WHERE waba_id = $1 AND name = 'hello_world'`, wabaID).Scan(&n))
			return n > 0
		}, "the connected number's templates should be synced")
	}
	for _, f := range fixtureTemplates {
		status := f.status
		if status == "" {
			status = "APPROVED"
		}
		format := f.format
		if format == "" {
			format = domain.ParametersPositional
		}
		if sb != nil && f.metaToo {
			_, err := sb.AddTemplate(wabaID, sandbox.TemplateSpec{Name: f.name, Language: "en_US", Category: f.category,
				Status: status, ParameterFormat: format, Components: json.RawMessage(f.components)})
			if !errors.Is(err, sandbox.ErrConflict) {
				require.NoError(t, err)
			}
		}
		_, err := a.Pool.Exec(context.Background(), `
			INSERT INTO templates (workspace_id, id, waba_id, meta_template_id, name, language, category, status,
				parameter_format, components, updated_at, status_at)
			VALUES ($1, $2, $3, '', $4, 'en_US', $5, $6, $7, $8, now(), now())
			ON CONFLICT (workspace_id, waba_id, name, language) DO NOTHING`,
			ws, domain.NewID(), wabaID, f.name, f.category, status, format, []byte(f.components))
		require.NoError(t, err)
	}
}
