package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/wabaplatform/waba/domain"
)

// Client calls the REST API of one server.
type Client struct {
	Base string
	HC   *http.Client
}

// NewClient returns a client of base with keep-alive for conc concurrent callers.
func NewClient(base string, conc int) *Client {
	return &Client{Base: base, HC: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: max(conc, 2), MaxConnsPerHost: 0, DisableCompression: true}}}
}

// Response is a status, headers and body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object (nil when it is not one).
func (r Response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Raw sends body as is (nil: no body) with the headers given as name, value pairs.
func (c *Client) Raw(ctx context.Context, method, path string, body []byte, headers ...string) (Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return Response{}, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.HC.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}, err
}

// Do sends body as JSON with an optional bearer token.
func (c *Client) Do(ctx context.Context, method, path, token string, body any) (Response, error) {
	var raw []byte
	h := []string{}
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return Response{}, err
		}
		h = append(h, "Content-Type", "application/json")
	}
	if token != "" {
		h = append(h, "Authorization", "Bearer "+token)
	}
	return c.Raw(ctx, method, path, raw, h...)
}

// Must is Do requiring the status want; it returns the decoded object.
func (c *Client) Must(ctx context.Context, want int, method, path, token string, body any) (map[string]any, error) {
	r, err := c.Do(ctx, method, path, token, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if r.Status != want {
		return nil, fmt.Errorf("%s %s: want %d, got %d: %s", method, path, want, r.Status, r.Body)
	}
	return r.JSON(), nil
}

// User is a signed-up user with an access token and its session's refresh token.
type User struct {
	ID, Email, Token, Refresh string
}

// Password is every harness user's password.
const Password = "correct horse battery staple"

// SignupLogin creates a user and logs in.
func (c *Client) SignupLogin(ctx context.Context, email string) (User, error) {
	const pw = Password
	m, err := c.Must(ctx, 201, "POST", "/v1/auth/signup", "", map[string]string{"email": email, "password": pw, "name": email})
	if err != nil {
		return User{}, err
	}
	u := User{Email: email}
	if um, ok := m["user"].(map[string]any); ok {
		u.ID, _ = um["id"].(string)
	}
	m, err = c.Must(ctx, 200, "POST", "/v1/auth/login", "", map[string]string{"email": email, "password": pw})
	if err != nil {
		return User{}, err
	}
	u.Token, _ = m["access_token"].(string)
	u.Refresh, _ = m["refresh_token"].(string)
	return u, nil
}

// CreateWorkspace creates a workspace owned by u on plan ("" keeps free), which the
// operator sets.
func (c *Client) CreateWorkspace(ctx context.Context, u User, name, plan string) (string, error) {
	m, err := c.Must(ctx, 201, "POST", "/v1/workspaces", u.Token, map[string]string{"name": name})
	if err != nil {
		return "", err
	}
	ws, _ := m["id"].(string)
	if plan != "" && plan != "free" {
		if _, err := c.Must(ctx, 200, "PUT", "/admin/workspaces/"+ws+"/plan", AdminToken, map[string]string{"plan": plan}); err != nil {
			return "", err
		}
	}
	return ws, nil
}

// Connect connects a sandbox account's number with its token (onboarding jobs run in a
// worker) and waits until it is connected. It returns our id of the number.
func (c *Client) Connect(ctx context.Context, u User, ws, token, wabaID, phoneNumberID string) (string, error) {
	m, err := c.Must(ctx, 202, "POST", "/v1/workspaces/"+ws+"/whatsapp/connect", u.Token,
		map[string]string{"access_token": token, "waba_id": wabaID, "phone_number_id": phoneNumberID})
	if err != nil {
		return "", err
	}
	pn, _ := m["phone_number"].(map[string]any)
	id, _ := pn["id"].(string)
	for deadline := time.Now().Add(30 * time.Second); ; {
		p, err := c.Must(ctx, 200, "GET", "/v1/workspaces/"+ws+"/whatsapp/phone-numbers/"+id, u.Token, nil)
		if err != nil {
			return "", err
		}
		if p["status"] == "connected" {
			return id, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("number %s not connected after 30s: %v", phoneNumberID, p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// InsertNumber registers a connected number for webhook routing directly in the database
// (no token: enough for inbound processing, not for sending). It returns our id.
func (db *DB) InsertNumber(ctx context.Context, ws, phoneNumberID, wabaID, display string) (string, error) {
	id := domain.NewID()
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO phone_numbers (workspace_id, id, phone_number_id, waba_id, display_phone_number, status,
			webhook_subscribed, registered, token_ciphertext, token_nonce, token_wrapped_key, token_key_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'connected', true, true, '\x00', '\x00', '\x00', 'bench', now(), now())`,
		ws, id, phoneNumberID, wabaID, display)
	return id.String(), err
}
