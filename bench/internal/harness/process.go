package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ServerOptions describe one `waba serve` process.
type ServerOptions struct {
	Bin         string // the waba binary (BuildWaba)
	DatabaseURL string
	Role        string // all (default), api or worker
	GraphURL    string // META_GRAPH_URL; default an unroutable loopback port
	RedisURL    string
	MaxConns    int // DB_MAX_CONNS (default 10: the suites share one server's connections)
	LogLevel    string
	LogDir      string            // where <name>.log goes (default os.TempDir())
	Name        string            // names the log file
	Env         map[string]string // extra variables, last word
}

// Server is a running `waba serve`.
type Server struct {
	Opts ServerOptions
	Addr string // 127.0.0.1:port
	URL  string // http://Addr
	Log  string // path of its stdout+stderr
	cmd  *exec.Cmd
	done chan error
}

// FreePort returns a loopback port nobody listens on right now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// StartServer starts `waba serve --no-migrate --role=...` (the suites migrate when they
// create the database) on a free port and waits until /readyz answers 200.
func StartServer(ctx context.Context, o ServerOptions) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return StartServerOn(ctx, o, fmt.Sprintf("127.0.0.1:%d", port))
}

// StartServerOn is StartServer on a given address (a restart keeps its address).
func StartServerOn(ctx context.Context, o ServerOptions, addr string) (*Server, error) {
	if o.Role == "" {
		o.Role = "all"
	}
	if o.GraphURL == "" {
		o.GraphURL = "http://127.0.0.1:9"
	}
	if o.MaxConns == 0 {
		o.MaxConns = 10
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if o.LogDir == "" {
		o.LogDir = os.TempDir()
	}
	if o.Name == "" {
		o.Name = "waba-" + o.Role
	}
	// No PUBLIC_URL: onboarding would give Meta (the sandbox) this instance's address as the
	// WABA's webhook callback, and a worker-role instance has no webhook route; the
	// sandbox's own callback, the suite's choice, receives webhooks instead.
	env := map[string]string{
		"DATABASE_URL": o.DatabaseURL, "HTTP_ADDR": addr,
		"META_APP_ID": AppID, "META_APP_SECRET": AppSecret, "META_VERIFY_TOKEN": VerifyToken,
		"META_GRAPH_URL": o.GraphURL, "JWT_SECRET": JWTSecret, "TOKEN_MASTER_KEY": MasterKey,
		"LOG_LEVEL": o.LogLevel, "DB_MAX_CONNS": fmt.Sprint(o.MaxConns), "SHUTDOWN_TIMEOUT": "10s",
		"REDIS_URL": o.RedisURL, "ADMIN_TOKEN": AdminToken,
	}
	for k, v := range o.Env {
		env[k] = v
	}
	s := &Server{Opts: o, Addr: addr, URL: "http://" + addr, Log: filepath.Join(o.LogDir, o.Name+".log"), done: make(chan error, 1)}
	logf, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(o.Bin, "serve", "--no-migrate", "--role="+o.Role)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Only what we set: the machine's own DATABASE_URL or REDIS_URL must not leak in.
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		if v != "" {
			s.cmd.Env = append(s.cmd.Env, k+"="+v)
		}
	}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait(); logf.Close() }()
	if err := s.WaitReady(ctx, 60*time.Second); err != nil {
		s.Kill()
		return nil, fmt.Errorf("%s did not become ready: %w (log %s: %s)", o.Name, err, s.Log, tail(s.Log))
	}
	return s, nil
}

// Pid is the process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Alive reports whether the process has not exited.
func (s *Server) Alive() bool {
	select {
	case err := <-s.done:
		s.done <- err
		return false
	default:
		return true
	}
}

// WaitReady polls GET /readyz until it answers 200, the process exits, or timeout.
func (s *Server) WaitReady(ctx context.Context, timeout time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if !s.Alive() {
			return errors.New("process exited")
		}
		res, err := hc.Get(s.URL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (s *Server) Kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.wait(10 * time.Second)
}

// Stop sends SIGTERM (graceful drain) and waits up to 30 s, then SIGKILL.
func (s *Server) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.wait(30 * time.Second):
		return err
	case <-time.After(31 * time.Second):
		s.Kill()
		return errors.New("did not stop within 30s after SIGTERM; killed")
	}
}

func (s *Server) wait(timeout time.Duration) <-chan error {
	out := make(chan error, 1)
	go func() {
		select {
		case err := <-s.done:
			s.done <- err
			out <- err
		case <-time.After(timeout):
			out <- errors.New("still running")
		}
	}()
	return out
}

// Restart starts the same process again on the same address.
func (s *Server) Restart(ctx context.Context) (*Server, error) {
	return StartServerOn(ctx, s.Opts, s.Addr)
}

// ProcStatus reads a size field of /proc/<pid>/status (VmRSS, VmHWM: the peak RSS), in
// bytes.
func ProcStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// Metrics reads the samples of the server's /metrics: an unlabelled one by its name, a
// labelled one by its name and labels as written (pgxpool_acquire_total{pool="requests"}).
func (s *Server) Metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// Label values here hold no spaces; the value follows the last one.
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			name, v := line[:i], line[i+1:]
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				out[name] = f
			}
		}
	}
	return out, sc.Err()
}

// CPUTime is the user+system CPU time of a process (/proc/<pid>/stat, clock ticks of 1/100 s).
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/<pid>/stat")
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}

// LogContains counts the lines of the log that contain sub.
func (s *Server) LogContains(sub string) int {
	b, err := os.ReadFile(s.Log)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), sub)
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
