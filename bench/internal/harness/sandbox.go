package harness

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
)

// Meta is the Meta sandbox running in this process (so it survives every kill of a
// server), its webhooks signed with AppSecret and posted to the server the caller starts on
// ServerAddr, a free loopback address. New numbers send 1,000 messages a second.
type Meta struct {
	*sandbox.Sandbox
	URL        string // a server's GraphURL
	ServerAddr string
	srv        *httptest.Server
}

// maxMessages is how many sends the benchmarks' sandbox keeps: every message of a
// 100,000-recipient campaign and the API's sends beside it, which the campaign bench
// checks one by one (sent once each, and when).
const maxMessages = 300_000

// StartMeta starts the sandbox on a loopback port; Close stops it.
func StartMeta() (*Meta, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &Meta{ServerAddr: fmt.Sprintf("127.0.0.1:%d", port)}
	m.Sandbox = sandbox.New(sandbox.Config{AppID: AppID, AppSecret: AppSecret, CallbackURL: "http://" + m.ServerAddr + "/webhooks/meta",
		DefaultThroughput: 1000, MaxMessages: maxMessages})
	m.srv = httptest.NewServer(m.Handler())
	m.URL = m.srv.URL
	return m, nil
}

// Close stops the sandbox.
func (m *Meta) Close() { m.srv.Close(); m.Sandbox.Close() }

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
