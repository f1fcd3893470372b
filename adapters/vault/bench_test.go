package vault_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/wabaplatform/waba/adapters/vault"
)

func benchVault(b *testing.B, ttl time.Duration) *vault.Vault {
	b.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		b.Fatal(err)
	}
	v, err := vault.New(context.Background(), vault.Options{MasterKey: key, CacheTTL: ttl})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = v.Close() })
	return v
}

var benchBinding = vault.Binding{WorkspaceID: "0190d6a4-7c4e-7b3a-9f00-000000000001", Purpose: "meta_access_token", PhoneNumberID: "106540352242922"}

// A Meta system-user token is a couple of hundred bytes.
var benchToken = []byte("EAAGm0PX4ZCpsBA" + string(make([]byte, 185)))

func BenchmarkSeal(b *testing.B) {
	ctx := context.Background()
	v := benchVault(b, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Seal(ctx, benchToken, benchBinding); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for name, ttl := range map[string]time.Duration{"cached": time.Hour, "uncached": 0} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			v := benchVault(b, ttl)
			s, err := v.Seal(ctx, benchToken, benchBinding)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Open(ctx, s, benchBinding); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
