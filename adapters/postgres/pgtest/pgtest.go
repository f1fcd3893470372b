// Package pgtest hands each test its own migrated Postgres database.
//
// The first call in a test binary creates a template database and migrates it; every test
// then gets `CREATE DATABASE ... TEMPLATE` of it (a file copy, far faster than migrating)
// and the copy is dropped when the test ends. Call Main from TestMain so the template is
// dropped when the package's tests finish. The server comes from TEST_DATABASE_URL, else
// DATABASE_URL (`make test` sets it), else 127.0.0.1:5432.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabaplatform/waba/adapters/postgres"
	"github.com/wabaplatform/waba/adapters/riveradapter"
)

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
	// CREATE DATABASE from one template refuses to run while another copy is being made.
	cloneMu sync.Mutex
)

// ServerURL is the admin URL of the server tests create databases on.
func ServerURL() string {
	for _, k := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// URLFor returns the server URL with its database name replaced.
func URLFor(dbname string) string {
	u, err := url.Parse(ServerURL())
	if err != nil {
		panic(fmt.Sprintf("pgtest: bad server url: %v", err))
	}
	u.Path = "/" + dbname
	return u.String()
}

// Main runs the package's tests and then drops the template database.
func Main(m *testing.M) int {
	code := m.Run()
	if templateName != "" {
		if err := dropDatabase(context.Background(), templateName); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: drop template: %v\n", err)
		}
	}
	return code
}

// NewURL creates a fresh migrated database for t and returns its URL; it is dropped when
// t ends.
func NewURL(t testing.TB) string {
	t.Helper()
	templateOnce.Do(func() { templateName, templateErr = buildTemplate() })
	if templateErr != nil {
		t.Fatalf("pgtest: template database: %v (is Postgres running? `make test` finds or starts one)", templateErr)
	}
	name := "waba_test_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cloneMu.Lock()
	err := adminExec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, templateName))
	cloneMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: clone template: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(context.Background(), name); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return URLFor(name)
}

// NewEmptyURL creates a fresh database with no schema at all for t (dropped when t ends),
// to test what happens on a first start.
func NewEmptyURL(t testing.TB) string {
	t.Helper()
	name := "waba_test_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := adminExec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(context.Background(), name); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return URLFor(name)
}

// NewPool creates a fresh migrated database for t and returns a pool on it; both are
// closed and dropped when t ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.NewPool(context.Background(), NewURL(t), 10, "waba-test")
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(pool.Close) // registered after the drop, so it runs before it
	return pool
}

func buildTemplate() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "waba_tpl_" + randomSuffix()
	if err := adminExec(ctx, `CREATE DATABASE `+name); err != nil {
		return "", err
	}
	pool, err := postgres.NewPool(ctx, URLFor(name), 4, "waba-test")
	if err != nil {
		return "", err
	}
	_, err = postgres.Migrate(ctx, pool, riveradapter.MigrateSchema)
	pool.Close() // a template cannot be copied while anything is connected to it
	if err != nil {
		_ = dropDatabase(ctx, name)
		return "", err
	}
	return name, nil
}

func adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func dropDatabase(ctx context.Context, name string) error {
	return adminExec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
