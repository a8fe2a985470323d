package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "0123456789abcdef0123456789abcdef" // 32 bytes

// testNow is the fixed clock of the verifier tests.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

// testKeys returns an RSA and an ECDSA (P-256) key, made once per run.
func testKeys(t *testing.T) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return rsaKey, ecKey
}

// pemOf returns the PKIX PEM encoding of a public key.
func pemOf(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// sign mints a token with a real signing method and key.
func sign(t *testing.T, m jwt.SigningMethod, key any, c Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, &c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forge builds a token whose header names alg but whose signature is an
// HMAC-SHA256 with secret: the algorithm-confusion attack.
func forge(t *testing.T, alg string, secret []byte, c Claims) string {
	t.Helper()
	head, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	body, _ := json.Marshal(&c)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(head) + "." + enc.EncodeToString(body)
	sig, err := jwt.SigningMethodHS256.Sign(signing, secret)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

// claimsFor are claims valid at testNow for an hour.
func claimsFor(subscribe ...string) Claims {
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Hour))},
		Subscribe:        subscribe,
	}
}

func TestVerifier(t *testing.T) {
	rsaPriv, ecPriv := testKeys(t)
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return testNow }
	verifiers := map[string]JWTConfig{
		"hmac":   {Secret: []byte(testSecret), Now: clock},
		"rsa":    {PublicKey: &rsaPriv.PublicKey, Now: clock},
		"ecdsa":  {PublicKey: &ecPriv.PublicKey, Now: clock},
		"both":   {Secret: []byte(testSecret), PublicKey: &rsaPriv.PublicKey, Now: clock},
		"leeway": {Secret: []byte(testSecret), Now: clock, Leeway: 30 * time.Second},
		"aud":    {Secret: []byte(testSecret), Now: clock, Audience: "plexor", Issuer: "https://issuer.example"},
	}
	ok := claimsFor("private-*")
	expired := claimsFor("private-*")
	expired.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Second))
	justExpired := claimsFor("private-*")
	justExpired.ExpiresAt = jwt.NewNumericDate(testNow.Add(-10 * time.Second))
	notYet := claimsFor("private-*")
	notYet.NotBefore = jwt.NewNumericDate(testNow.Add(time.Minute))
	noExp := claimsFor("private-*")
	noExp.ExpiresAt = nil
	badPattern := claimsFor("private x")
	badPublish := claimsFor()
	badPublish.Publish = []string{""}
	withAud := claimsFor("a")
	withAud.Audience = jwt.ClaimStrings{"plexor"}
	withAud.Issuer = "https://issuer.example"
	wrongAud := withAud
	wrongAud.Audience = jwt.ClaimStrings{"other"}
	wrongIss := withAud
	wrongIss.Issuer = "https://evil.example"
	rsaPEM := pemOf(t, &rsaPriv.PublicKey)

	tests := []struct {
		name, verifier, token, wantErr string
	}{
		{"HS256", "hmac", sign(t, jwt.SigningMethodHS256, []byte(testSecret), ok), ""},
		{"HS384", "hmac", sign(t, jwt.SigningMethodHS384, []byte(testSecret), ok), ""},
		{"HS512", "hmac", sign(t, jwt.SigningMethodHS512, []byte(testSecret), ok), ""},
		{"RS256", "rsa", sign(t, jwt.SigningMethodRS256, rsaPriv, ok), ""},
		{"PS256", "rsa", sign(t, jwt.SigningMethodPS256, rsaPriv, ok), ""},
		{"ES256", "ecdsa", sign(t, jwt.SigningMethodES256, ecPriv, ok), ""},
		{"HS256 with both keys", "both", sign(t, jwt.SigningMethodHS256, []byte(testSecret), ok), ""},
		{"RS256 with both keys", "both", sign(t, jwt.SigningMethodRS256, rsaPriv, ok), ""},
		{"audience and issuer", "aud", sign(t, jwt.SigningMethodHS256, []byte(testSecret), withAud), ""},
		{"expired within leeway", "leeway", sign(t, jwt.SigningMethodHS256, []byte(testSecret), justExpired), ""},

		{"expired", "hmac", sign(t, jwt.SigningMethodHS256, []byte(testSecret), expired), "expired"},
		{"not valid yet", "hmac", sign(t, jwt.SigningMethodHS256, []byte(testSecret), notYet), "not valid yet"},
		{"missing exp", "hmac", sign(t, jwt.SigningMethodHS256, []byte(testSecret), noExp), "no expiry"},
		{"wrong secret", "hmac", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), ok), "signature"},
		{"tampered claims", "hmac", tamper(t, sign(t, jwt.SigningMethodHS256, []byte(testSecret), claimsFor("public")), claimsFor("*")), "signature"},
		{"other RSA key", "rsa", sign(t, jwt.SigningMethodRS256, otherRSA, ok), "signature"},
		{"HS token, only RSA configured", "rsa", sign(t, jwt.SigningMethodHS256, []byte(testSecret), ok), "algorithm"},
		{"HS256 keyed with the RSA public key PEM", "rsa", sign(t, jwt.SigningMethodHS256, rsaPEM, ok), "algorithm"},
		{"HS256 keyed with the RSA public key PEM, both keys", "both", sign(t, jwt.SigningMethodHS256, rsaPEM, ok), "signature"},
		{"RS256 header, HMAC signature with the secret", "both", forge(t, "RS256", []byte(testSecret), ok), "signature"},
		{"RS256 header, HMAC signature, only HMAC configured", "hmac", forge(t, "RS256", []byte(testSecret), ok), "algorithm"},
		{"ES256 header, HMAC signature", "ecdsa", forge(t, "ES256", []byte(testSecret), ok), "signature"},
		{"RS token, only HMAC configured", "hmac", sign(t, jwt.SigningMethodRS256, rsaPriv, ok), "algorithm"},
		{"ES token, only RSA configured", "rsa", sign(t, jwt.SigningMethodES256, ecPriv, ok), "algorithm"},
		{"alg none, HMAC configured", "hmac", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ok), "algorithm"},
		{"alg none, RSA configured", "rsa", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ok), "algorithm"},
		{"unknown alg", "hmac", forge(t, "HS999", []byte(testSecret), ok), "algorithm"},
		{"invalid subscribe pattern", "hmac", sign(t, jwt.SigningMethodHS256, []byte(testSecret), badPattern), "claim subscribe"},
		{"invalid publish pattern", "hmac", sign(t, jwt.SigningMethodHS256, []byte(testSecret), badPublish), "claim publish"},
		{"wrong audience", "aud", sign(t, jwt.SigningMethodHS256, []byte(testSecret), wrongAud), "audience"},
		{"wrong issuer", "aud", sign(t, jwt.SigningMethodHS256, []byte(testSecret), wrongIss), "issuer"},
		{"missing audience", "aud", sign(t, jwt.SigningMethodHS256, []byte(testSecret), ok), "audience"},
		{"garbage", "hmac", "not-a-jwt", "malformed"},
		{"two parts", "hmac", "abc.def", "malformed"},
		{"too long", "hmac", strings.Repeat("a", 9000), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verifiers[tt.verifier].ToVerifier()
			if err != nil {
				t.Fatal(err)
			}
			claims, err := v.Verify(tt.token)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want the token accepted", err)
				}
				if claims.ExpiresAt == nil {
					t.Fatal("accepted claims have no exp")
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token (claims %+v), want an error containing %q", claims, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Verify error = %q, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Fatalf("error %q contains the token", err)
			}
		})
	}
}

// tamper replaces the claims of token (keeping its header and signature).
func tamper(t *testing.T, token string, c Claims) string {
	t.Helper()
	parts := strings.Split(token, ".")
	body, _ := json.Marshal(&c)
	parts[1] = base64.RawURLEncoding.EncodeToString(body)
	return strings.Join(parts, ".")
}

func TestVerifierUntilIncludesLeeway(t *testing.T) {
	v, err := JWTConfig{Secret: []byte(testSecret), Leeway: 5 * time.Second, Now: func() time.Time { return testNow }}.ToVerifier()
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(sign(t, jwt.SigningMethodHS256, []byte(testSecret), claimsFor("a")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.Until(claims), testNow.Add(time.Hour+5*time.Second); !got.Equal(want) {
		t.Fatalf("Until = %s, want %s", got, want)
	}
}

func TestJWTConfigRejects(t *testing.T) {
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		config  JWTConfig
		wantErr string
	}{
		{"no key", JWTConfig{}, "needs an HMAC secret or a public key"},
		{"short secret", JWTConfig{Secret: []byte("short")}, "at least 32 bytes"},
		{"small RSA key", JWTConfig{PublicKey: &smallRSA.PublicKey}, "at least 2048"},
		{"P-224", JWTConfig{PublicKey: &p224.PublicKey}, "P-256, P-384 or P-521"},
		{"private key", JWTConfig{PublicKey: smallRSA}, "unsupported public key type"},
		{"negative leeway", JWTConfig{Secret: []byte(testSecret), Leeway: -time.Second}, "leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.config.ToVerifier()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ToVerifier = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	rsaPriv, ecPriv := testKeys(t)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaPriv.PublicKey)})
	privDER, _ := x509.MarshalPKCS8PrivateKey(ecPriv)
	tests := []struct {
		name    string
		pem     []byte
		wantErr string
	}{
		{"RSA PKIX", pemOf(t, &rsaPriv.PublicKey), ""},
		{"RSA PKCS1", pkcs1, ""},
		{"ECDSA PKIX", pemOf(t, &ecPriv.PublicKey), ""},
		{"not PEM", []byte("hello"), "no PEM block"},
		{"private key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), "not a public key"},
		{"broken DER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}), "reading the public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParsePublicKeyPEM(tt.pem)
			if tt.wantErr == "" {
				if err != nil || key == nil {
					t.Fatalf("ParsePublicKeyPEM = %v, %v; want a key", key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParsePublicKeyPEM error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
