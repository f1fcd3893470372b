package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"gocloud.dev/secrets"
	_ "gocloud.dev/secrets/awskms"        // awskms:// key URLs
	_ "gocloud.dev/secrets/azurekeyvault" // azurekeyvault:// key URLs
	_ "gocloud.dev/secrets/gcpkms"        // gcpkms:// key URLs
	_ "gocloud.dev/secrets/hashivault"    // hashivault:// key URLs
	"gocloud.dev/secrets/localsecrets"    // base64key:// key URLs and the local master key
)

// openKEK opens the key-encryption key from exactly one of masterKey and keyURL and names
// it. Local keys go through localsecrets, so every KEK is a *secrets.Keeper.
func openKEK(ctx context.Context, masterKey []byte, keyURL string) (*secrets.Keeper, string, error) {
	switch {
	case len(masterKey) > 0 && keyURL != "":
		return nil, "", fmt.Errorf("%w: set either a master key or a key URL, not both", ErrInvalidOptions)
	case len(masterKey) > 0:
		if len(masterKey) != 32 {
			return nil, "", fmt.Errorf("%w: master key is %d bytes, want 32", ErrInvalidOptions, len(masterKey))
		}
		var k [32]byte
		copy(k[:], masterKey)
		defer clear(k[:])
		return localsecrets.NewKeeper(k), "local:" + fingerprint(k[:]), nil
	case keyURL != "":
		return openKeyURL(ctx, keyURL)
	default:
		return nil, "", fmt.Errorf("%w: a master key or a key URL is required", ErrInvalidOptions)
	}
}

// CheckKeyURL reports, without opening it, whether raw is a key URL the vault can open: it
// parses, its scheme is a registered driver, and a base64key:// URL carries a valid key.
// The error never quotes the URL, which may hold a key.
func CheckKeyURL(raw string) error {
	_, _, err := parseKeyURL(raw)
	return err
}

// parseKeyURL is CheckKeyURL's work, returning the URL and the key's name.
func parseKeyURL(raw string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, which may hold a key: do not wrap it.
		return nil, "", fmt.Errorf("%w: key URL does not parse", ErrInvalidOptions)
	}
	mux := secrets.DefaultURLMux()
	if u.Scheme == "" || !mux.ValidKeeperScheme(u.Scheme) {
		return nil, "", fmt.Errorf("%w: key URL scheme %q is not one of %s",
			ErrInvalidOptions, u.Scheme, strings.Join(mux.KeeperSchemes(), ", "))
	}
	if u.Scheme != localsecrets.Scheme {
		return u, urlKeyID(u), nil
	}
	if u.Host == "" {
		return nil, "", fmt.Errorf("%w: base64key:// needs a key; a random one would not survive a restart", ErrInvalidOptions)
	}
	k, err := localsecrets.Base64Key(u.Host)
	if err != nil {
		return nil, "", fmt.Errorf("%w: base64key:// host must be base64url of exactly 32 bytes", ErrInvalidOptions)
	}
	defer clear(k[:])
	return u, localsecrets.Scheme + ":" + fingerprint(k[:]), nil
}

func openKeyURL(ctx context.Context, raw string) (*secrets.Keeper, string, error) {
	u, keyID, err := parseKeyURL(raw)
	if err != nil {
		return nil, "", err
	}
	mux := secrets.DefaultURLMux()
	keeper, err := mux.OpenKeeperURL(ctx, u)
	if err != nil {
		// Drivers quote the URL in their errors; it may carry a key or credentials.
		return nil, "", fmt.Errorf("%w: open key %s: %s", ErrInvalidOptions, keyID, redact(err.Error(), raw, u))
	}
	return keeper, keyID, nil
}

// fingerprint names a key by the first 16 hex digits of its SHA-256.
func fingerprint(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// urlKeyID is the scheme, host and path of a KMS key URL: no credentials, no query string.
func urlKeyID(u *url.URL) string {
	if u.Opaque != "" {
		return u.Scheme + ":" + u.Opaque
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// redact removes from msg every form of the key URL that may carry secrets.
func redact(msg, raw string, u *url.URL) string {
	secretParts := []string{raw, u.String()}
	if u.Scheme == localsecrets.Scheme {
		secretParts = append(secretParts, u.Host)
	}
	if u.User != nil {
		secretParts = append(secretParts, u.User.String())
		if p, ok := u.User.Password(); ok {
			secretParts = append(secretParts, p)
		}
	}
	for _, s := range secretParts {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}
