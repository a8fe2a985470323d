package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/plexor/plexor/auth"
	"github.com/plexor/plexor/events"
)

// testToken is a valid publisher token.
const testToken = "test-token-0123456789abcdef"

// jwtSecret is a valid PLEXOR_JWT_SECRET.
const jwtSecret = "config-jwt-secret-0123456789abcdef"

// newSigningKeys returns a new RSA (2048) and ECDSA (P-256) key.
func newSigningKeys(t *testing.T) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return rsaKey, ecKey
}

// writePublicKey writes the PKIX PEM of pub to a temporary file and returns
// its path.
func writePublicKey(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwt.pub.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigAuthDefaults(t *testing.T) {
	cfg, err := Load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.PrivateChannels, []string{"private-*"}) || cfg.TokenCookie != "plexor_token" || cfg.JWTLeeway != 0 {
		t.Fatalf("private=%q cookie=%q leeway=%s, want [private-*] plexor_token 0s", cfg.PrivateChannels, cfg.TokenCookie, cfg.JWTLeeway)
	}
	if v, err := cfg.JWTVerifier(); v != nil || err != nil {
		t.Fatalf("JWTVerifier without keys = %v, %v; want none", v, err)
	}
}

func TestLoadConfigReadsTheJWTKeys(t *testing.T) {
	rsaKey, ecKey := newSigningKeys(t)
	for _, tt := range []struct {
		name string
		vars map[string]string
	}{
		{"secret", map[string]string{"PLEXOR_JWT_SECRET": jwtSecret}},
		{"RSA key", map[string]string{"PLEXOR_JWT_PUBLIC_KEY_FILE": writePublicKey(t, &rsaKey.PublicKey)}},
		{"ECDSA key", map[string]string{"PLEXOR_JWT_PUBLIC_KEY_FILE": writePublicKey(t, &ecKey.PublicKey)}},
		{"secret, key, leeway, issuer and audience", map[string]string{
			"PLEXOR_JWT_SECRET": jwtSecret, "PLEXOR_JWT_PUBLIC_KEY_FILE": writePublicKey(t, &rsaKey.PublicKey),
			"PLEXOR_JWT_LEEWAY": "30s", "PLEXOR_JWT_ISSUER": "https://id.example", "PLEXOR_JWT_AUDIENCE": "plexor"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.vars)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := cfg.JWTVerifier(); v == nil || err != nil {
				t.Fatalf("JWTVerifier = %v, %v; want a verifier", v, err)
			}
		})
	}
}

func TestLoadConfigAuthErrorsNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	privDER, _ := x509.MarshalPKCS8PrivateKey(small)
	const shortSecret = "too-short-secret"
	tests := []struct {
		name        string
		vars        map[string]string
		wantInError string
	}{
		{"empty scope", map[string]string{"PLEXOR_PUBLISH_TOKENS": testToken + ":"}, "PLEXOR_PUBLISH_TOKENS: empty scope after ':' (entry 1)"},
		{"bad scope pattern", map[string]string{"PLEXOR_PUBLISH_TOKENS": testToken + ",other-token-0123456789:news/*"}, "PLEXOR_PUBLISH_TOKENS: pattern 1 of the scope of entry 2 is not a channel pattern"},
		{"empty pattern in scope", map[string]string{"PLEXOR_PUBLISH_TOKENS": testToken + ":a||b"}, "PLEXOR_PUBLISH_TOKENS: pattern 2 of the scope of entry 1 is not a channel pattern"},
		{"admin token with a colon", map[string]string{"PLEXOR_ADMIN_TOKENS": "admin-token-0123456789:x"}, "PLEXOR_ADMIN_TOKENS: a token must not contain ':'"},
		{"duplicate token", map[string]string{"PLEXOR_PUBLISH_TOKENS": testToken + "," + testToken + ":a"}, "PLEXOR_PUBLISH_TOKENS: entry 2 repeats the token of entry 1"},
		{"short scoped token", map[string]string{"PLEXOR_PUBLISH_TOKENS": "short:news-*"}, "PLEXOR_PUBLISH_TOKENS: a token must be at least 16"},
		{"bad private pattern", map[string]string{"PLEXOR_PRIVATE_CHANNELS": "private-*,vip room"}, `PLEXOR_PRIVATE_CHANNELS: channel pattern "vip room" is invalid`},
		{"empty private pattern", map[string]string{"PLEXOR_PRIVATE_CHANNELS": "private-*,"}, "PLEXOR_PRIVATE_CHANNELS: a channel pattern must not be empty"},
		{"bad cookie name", map[string]string{"PLEXOR_TOKEN_COOKIE": "my cookie"}, `PLEXOR_TOKEN_COOKIE: cookie name "my cookie" is invalid`},
		{"short secret", map[string]string{"PLEXOR_JWT_SECRET": shortSecret}, "PLEXOR_JWT_SECRET: must be at least 32 bytes long, got 16"},
		{"negative leeway", map[string]string{"PLEXOR_JWT_LEEWAY": "-1s"}, "PLEXOR_JWT_LEEWAY: must be between 0 and 5m"},
		{"huge leeway", map[string]string{"PLEXOR_JWT_LEEWAY": "1h"}, "PLEXOR_JWT_LEEWAY: must be between 0 and 5m"},
		{"audience without a key", map[string]string{"PLEXOR_JWT_AUDIENCE": "plexor"}, "PLEXOR_JWT_AUDIENCE: has no effect without"},
		{"issuer without a key", map[string]string{"PLEXOR_JWT_ISSUER": "me"}, "PLEXOR_JWT_ISSUER: has no effect without"},
		{"missing key file", map[string]string{"PLEXOR_JWT_PUBLIC_KEY_FILE": filepath.Join(dir, "nope.pem")}, "PLEXOR_JWT_PUBLIC_KEY_FILE: open"},
		{"not PEM", map[string]string{"PLEXOR_JWT_PUBLIC_KEY_FILE": file("text.pem", []byte("hello"))}, "PLEXOR_JWT_PUBLIC_KEY_FILE: " + filepath.Join(dir, "text.pem") + ": no PEM block found"},
		{"private key file", map[string]string{"PLEXOR_JWT_PUBLIC_KEY_FILE": file("priv.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))}, `is not a public key`},
		{"small RSA key", map[string]string{"PLEXOR_JWT_PUBLIC_KEY_FILE": file("small.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER}))}, "PLEXOR_JWT_PUBLIC_KEY_FILE: " + filepath.Join(dir, "small.pem") + ": the RSA public key has 1024 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.vars)
			if err == nil {
				t.Fatalf("%v accepted, want an error", tt.vars)
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Fatalf("error = %q, want it to contain %q", err, tt.wantInError)
			}
			for _, secret := range []string{testToken, shortSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q reveals a secret", err)
				}
			}
		})
	}
}

// The pattern alphabet of auth (which may not import events) must be the
// channel alphabet of events plus the wildcard.
func TestPatternAlphabetMatchesChannelNames(t *testing.T) {
	for b := range 256 {
		s := string([]byte{byte(b)})
		want := events.ValidChannel(s) || b == '*'
		if got := auth.CheckPattern(s) == nil; got != want {
			t.Errorf("byte %#x: valid in a pattern = %v, valid channel (or *) = %v", b, got, want)
		}
	}
}
