package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwtSecret is PLEXOR_JWT_SECRET of the test servers that verify HMAC tokens.
const jwtSecret = "e2e-jwt-secret-0123456789abcdef0123"

var (
	keyOnce sync.Once
	rsaPriv *rsa.PrivateKey
	ecPriv  *ecdsa.PrivateKey
)

// signingKeys returns an RSA (2048) and an ECDSA (P-256) key, made once.
func signingKeys() (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if rsaPriv, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecPriv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return rsaPriv, ecPriv
}

// publicKeyPEM returns the PKIX PEM of pub.
func publicKeyPEM(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// writePublicKey writes the PEM of pub to a temporary file and returns its path.
func writePublicKey(t *testing.T, pub any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwt.pub.pem")
	if err := os.WriteFile(path, publicKeyPEM(t, pub), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// claims are token claims valid for an hour, allowing subscribe patterns.
func claims(subscribe ...string) jwt.MapClaims {
	return jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "subscribe": subscribe}
}

// with returns a copy of c with key set to value (nil deletes it).
func with(c jwt.MapClaims, key string, value any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

// mint signs c with a real method and key ("none" too, with
// jwt.UnsafeAllowNoneSignatureType).
func mint(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hs256 mints an HS256 token with the test secret.
func hs256(t *testing.T, c jwt.MapClaims) string {
	return mint(t, jwt.SigningMethodHS256, []byte(jwtSecret), c)
}

// forge builds a token whose header names alg while its signature is
// HMAC-SHA256 with hmacKey: the algorithm-confusion attack.
func forge(t *testing.T, alg string, hmacKey []byte, c jwt.MapClaims) string {
	t.Helper()
	head, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	body, _ := json.Marshal(c)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(head) + "." + enc.EncodeToString(body)
	sig, err := jwt.SigningMethodHS256.Sign(signing, hmacKey)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}
