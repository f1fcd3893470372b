package harness

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HookReceiver is a customer's webhook endpoint on loopback: it checks each request's
// Standard Webhooks signature (written here from the specification, not with the server's
// signer), answers 200, and keeps the first arrival of every webhook-id.
type HookReceiver struct {
	URL string
	// Hang makes every request wait until the sender gives up (an endpoint that times out).
	Hang atomic.Bool
	// Status, when not 0, is answered instead of 200 (an endpoint that is down).
	Status atomic.Int32
	// Delay, in nanoseconds, is waited before each answer (a slow endpoint).
	Delay atomic.Int64

	srv      *http.Server
	ln       net.Listener
	requests atomic.Int64
	mu       sync.Mutex
	secrets  [][]byte
	first    map[string]Arrival
	repeats  int
	badSigs  int
}

// Arrival is a webhook's first successful arrival.
type Arrival struct {
	At        time.Time
	Type      string
	CreatedAt time.Time // the event's created_at, from the body
}

// StartHookReceiver listens on addr (host:port; port 0 for a free one).
func StartHookReceiver(addr string) (*HookReceiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &HookReceiver{URL: "http://" + ln.Addr().String() + "/hooks", ln: ln, first: map[string]Arrival{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// Close stops the receiver.
func (r *HookReceiver) Close() { _ = r.srv.Close() }

// Secret adds a secret (whsec_...) signatures are checked against.
func (r *HookReceiver) Secret(s string) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if err != nil || !strings.HasPrefix(s, "whsec_") {
		return fmt.Errorf("not a webhook secret: %q", s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, key)
	return nil
}

// ServeHTTP implements http.Handler.
func (r *HookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		return
	}
	if r.Hang.Load() {
		<-req.Context().Done() // the sender's timeout ends it
		return
	}
	if d := time.Duration(r.Delay.Load()); d > 0 {
		time.Sleep(d)
	}
	if s := r.Status.Load(); s != 0 {
		w.WriteHeader(int(s))
		return
	}
	id := req.Header.Get("webhook-id")
	ok := r.verify(id, req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature"), body)
	var ev struct {
		Type      string    `json:"type"`
		CreatedAt time.Time `json:"created_at"`
	}
	_ = json.Unmarshal(body, &ev)
	now := time.Now()
	r.mu.Lock()
	switch _, seen := r.first[id]; {
	case !ok:
		r.badSigs++
	case seen:
		r.repeats++
	default:
		r.first[id] = Arrival{At: now, Type: ev.Type, CreatedAt: ev.CreatedAt}
	}
	r.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
	}
}

// verify checks the signature header (one or more "v1,<base64>" separated by spaces) as
// the specification says: HMAC-SHA256 over "id.timestamp.body" with the secret's bytes.
func (r *HookReceiver) verify(id, ts, header string, body []byte) bool {
	if id == "" || ts == "" || header == "" {
		return false
	}
	r.mu.Lock()
	secrets := r.secrets
	r.mu.Unlock()
	for _, key := range secrets {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		want := m.Sum(nil)
		for _, sig := range strings.Fields(header) {
			v, b64, ok := strings.Cut(sig, ",")
			if !ok || v != "v1" {
				continue
			}
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}

// Requests is how many requests arrived (whatever their answer).
func (r *HookReceiver) Requests() int64 { return r.requests.Load() }

// Counts are the distinct webhook-ids received, the repeated arrivals and the requests
// whose signature did not verify.
func (r *HookReceiver) Counts() (distinct, repeats, badSigs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.first), r.repeats, r.badSigs
}

// Arrivals is a copy of the first arrivals by webhook-id.
func (r *HookReceiver) Arrivals() map[string]Arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Arrival, len(r.first))
	for k, v := range r.first {
		out[k] = v
	}
	return out
}

// WaitDistinct waits until n distinct webhook-ids arrived, or nothing new came for idle,
// or limit passed; it returns how many arrived.
func (r *HookReceiver) WaitDistinct(ctx context.Context, n int, idle, limit time.Duration) int {
	start, last, lastAt := time.Now(), -1, time.Now()
	for {
		got, _, _ := r.Counts()
		if got >= n || time.Since(start) > limit || ctx.Err() != nil {
			return got
		}
		if got != last {
			last, lastAt = got, time.Now()
		} else if time.Since(lastAt) > idle {
			return got
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// CreateEndpoint creates a webhook endpoint of workspace ws for events and returns its id
// and secret.
func (c *Client) CreateEndpoint(ctx context.Context, u User, ws, url string, events ...string) (id, secret string, err error) {
	m, err := c.Must(ctx, 201, "POST", "/v1/workspaces/"+ws+"/webhook-endpoints", u.Token,
		map[string]any{"url": url, "events": events})
	if err != nil {
		return "", "", err
	}
	id, _ = m["id"].(string)
	secret, _ = m["secret"].(string)
	if id == "" || secret == "" {
		return "", "", errors.New("endpoint created without an id or a secret")
	}
	return id, secret, nil
}
