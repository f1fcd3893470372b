package vault_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/wabaplatform/waba/adapters/vault"
)

func Example() {
	ctx := context.Background()
	masterKey := make([]byte, 32) // TOKEN_MASTER_KEY, base64-decoded
	_, _ = rand.Read(masterKey)

	v, err := vault.New(ctx, vault.Options{MasterKey: masterKey, CacheTTL: 5 * time.Minute})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	b := vault.Binding{WorkspaceID: "0190d6a4-7c4e-7b3a-9f00-000000000001", Purpose: "meta_access_token", PhoneNumberID: "106540352242922"}
	sealed, err := v.Seal(ctx, []byte("EAAG-token"), b)
	if err != nil {
		panic(err)
	}
	// Store sealed.Ciphertext, sealed.Nonce, sealed.WrappedKey and sealed.KeyID in the row.

	token, err := v.Open(ctx, sealed, b)
	fmt.Println(string(token), err)

	b.WorkspaceID = "0190d6a4-7c4e-7b3a-9f00-000000000002" // the same ciphertext in another workspace's row
	_, err = v.Open(ctx, sealed, b)
	fmt.Println(err)
	// Output:
	// EAAG-token <nil>
	// vault: sealed secret failed authentication
}

// Rotating the key-encryption key: open with old and new keys while rows are re-wrapped.
func ExampleRing() {
	ctx := context.Background()
	oldKey, newKey := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(oldKey)
	_, _ = rand.Read(newKey)
	oldVault, _ := vault.New(ctx, vault.Options{MasterKey: oldKey})
	newVault, _ := vault.New(ctx, vault.Options{MasterKey: newKey})
	defer oldVault.Close()
	defer newVault.Close()

	b := vault.Binding{WorkspaceID: "w1", Purpose: "meta_access_token"}
	row, _ := oldVault.Seal(ctx, []byte("EAAG-token"), b)

	ring, err := vault.NewRing(newVault, oldVault)
	if err != nil {
		panic(err)
	}
	if row.KeyID != ring.KeyID() {
		row, err = ring.Rewrap(ctx, row) // what `waba keys rotate` does, row by row
		if err != nil {
			panic(err)
		}
	}
	token, err := newVault.Open(ctx, row, b)
	fmt.Println(string(token), err, row.KeyID == newVault.KeyID())
	// Output: EAAG-token <nil> true
}
