package bootstrap

import (
	"net"
	"net/url"

	"go.uber.org/fx"

	"github.com/wabaplatform/waba/adapters/httpconsole"
)

// ConsoleModule serves the web console at / (adapters/httpconsole), beside the API.
var ConsoleModule = fx.Module("console",
	fx.Provide(
		fx.Annotate(func(cfg Config) (RouteRegistration, error) {
			c, err := httpconsole.New(httpconsole.Config{SandboxURL: sandboxURL(cfg.MetaGraphURL)})
			if err != nil {
				return nil, err
			}
			return c.Register, nil
		}, fx.ResultTags(`group:"routes"`)),
	),
)

// sandboxURL is the Graph URL when it is the Meta sandbox on this machine (make run points
// META_GRAPH_URL at 127.0.0.1:8090): Meta itself is never on a loopback address. The
// console then offers a one-click sandbox account.
func sandboxURL(graphURL string) string {
	u, err := url.Parse(graphURL)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if host == "localhost" {
		return graphURL
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return graphURL
	}
	return ""
}
