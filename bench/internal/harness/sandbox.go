package harness

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
)

// StartSandbox runs the Meta sandbox in this process (so it survives every kill of a
// server) on a loopback port, its webhooks signed with AppSecret and posted to callback.
// New numbers send 1,000 messages a second. It returns the sandbox, its URL (a server's
// GraphURL) and the function that stops it.
func StartSandbox(callback string) (*sandbox.Sandbox, string, func()) {
	sb := sandbox.New(sandbox.Config{AppID: AppID, AppSecret: AppSecret, CallbackURL: callback, DefaultThroughput: 1000})
	srv := httptest.NewServer(sb.Handler())
	return sb, srv.URL, func() { srv.Close(); sb.Close() }
}

// WaitTemplate waits until the workspace's catalogue has the template name: template sends
// and campaigns are checked against it, and a connected number's template sync fills it.
func (c *Client) WaitTemplate(ctx context.Context, u User, ws, name string) error {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r, err := c.Do(ctx, "GET", "/v1/workspaces/"+ws+"/templates?name="+name, u.Token, nil)
		if err == nil && r.Status == 200 {
			if data, _ := r.JSON()["data"].([]any); len(data) > 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("template %s was not synced: %d %v", name, r.Status, err)
		}
	}
}
