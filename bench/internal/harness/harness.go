// Package harness is what the bench, chaos and security suites share: a scratch database
// on the Postgres of DATABASE_URL, `waba serve` processes built from this module and run
// on free loopback ports, signed Meta webhooks and a load generator, percentiles, and the
// report (an aligned table on stdout, JSON under bench/results/).
//
// Everything it starts it also stops; every loop is bounded in count or time; all traffic
// stays on 127.0.0.1.
package harness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/wabaplatform/waba/adapters/postgres/pgtest"
)

// Secrets every server started by the harness shares (development values, never real).
const (
	AppID       = "bench-app"
	AppSecret   = "bench-app-secret"
	VerifyToken = "bench-verify-token"
	JWTSecret   = "bench-jwt-secret-bench-jwt-secret-0123"
	AdminToken  = "bench-operator-token" // ADMIN_TOKEN: plans are set through the operator's API
)

// MasterKey is the base64 TOKEN_MASTER_KEY of every server started by the harness.
var MasterKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))

// ModuleRoot finds the directory holding this module's go.mod, from the working directory
// upwards (go run and go test both run somewhere inside the module).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/wabaplatform/waba\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: not inside the waba module")
		}
		dir = parent
	}
}

// BaseDatabaseURL is the server the suites make scratch databases on: the same rule as
// every test of the module (TEST_DATABASE_URL, DATABASE_URL, else 127.0.0.1:5432).
func BaseDatabaseURL() string { return pgtest.ServerURL() }

// Prepared is what every suite starts from: the server URL, a scratch directory (the caller
// removes it) and the waba binary built into it.
type Prepared struct {
	Base, Tmp, Bin string
}

// Prepare makes the scratch directory and builds the binary, logging through logf.
func Prepare(ctx context.Context, suite string, logf func(string, ...any)) (Prepared, error) {
	p := Prepared{Base: BaseDatabaseURL()}
	var err error
	if p.Tmp, err = os.MkdirTemp("", "waba-"+suite+"-"); err != nil {
		return p, err
	}
	logf("building ./cmd/waba")
	if p.Bin, err = BuildWaba(ctx, p.Tmp); err != nil {
		os.RemoveAll(p.Tmp)
		return p, err
	}
	return p, nil
}

var buildMu sync.Mutex

// BuildWaba builds ./cmd/waba into dir and returns the binary's path.
func BuildWaba(ctx context.Context, dir string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "waba")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/waba")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/waba: %v\n%s", err, b)
	}
	return out, nil
}
