package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLen is the shortest accepted HMAC secret of signed tokens (JWT), in bytes (256 bits).
const MinSecretLen = 32

// MinRSABits is the smallest accepted RSA public key.
const MinRSABits = 2048

// maxSignedTokenLen bounds a signed token; longer ones are refused unread.
const maxSignedTokenLen = 8 << 10

// Claims are the claims of a Plexor token: the registered ones (exp is
// required; nbf, iss and aud are checked when present or configured) and the
// channel patterns (see Patterns) the bearer may subscribe to and publish to.
type Claims struct {
	jwt.RegisteredClaims
	// Subscribe lists the private channels the bearer may receive.
	Subscribe []string `json:"subscribe,omitempty"`
	// Publish lists the channels the bearer may publish to (POST /publish).
	Publish []string `json:"publish,omitempty"`
}

// Validate checks the channel patterns; the jwt parser calls it after the
// registered claims passed.
func (c *Claims) Validate() error {
	if _, err := ParsePatterns(c.Subscribe); err != nil {
		return &patternClaimError{claim: "subscribe", err: err}
	}
	if _, err := ParsePatterns(c.Publish); err != nil {
		return &patternClaimError{claim: "publish", err: err}
	}
	return nil
}

// patternClaimError is an invalid pattern in a claim (safe to show: it
// names the pattern, which the bearer wrote, not the token).
type patternClaimError struct {
	claim string
	err   error
}

func (e *patternClaimError) Error() string { return "claim " + e.claim + ": " + e.err.Error() }

// JWTConfig configures the verification of signed tokens (JWT). At least one
// key is required; the accepted algorithms are exactly those of the keys
// configured — HS256/384/512 for Secret, RS256/384/512 and PS256/384/512 for
// an RSA key, ES256, ES384 or ES512 (by curve) for an ECDSA key — so "none"
// and tokens that name another algorithm than their key's are refused.
type JWTConfig struct {
	// Secret is the HMAC key (its bytes as they are), MinSecretLen or longer.
	Secret []byte
	// PublicKey is an *rsa.PublicKey or *ecdsa.PublicKey (see
	// ParsePublicKeyPEM) whose private half signs tokens.
	PublicKey crypto.PublicKey
	// Leeway is the clock skew allowed when checking exp and nbf.
	Leeway time.Duration
	// Issuer, when set, must be the token's iss.
	Issuer string
	// Audience, when set, must be among the token's aud.
	Audience string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Verifier checks signed tokens. It is safe for concurrent use.
type Verifier struct {
	parser *jwt.Parser
	secret []byte
	key    crypto.PublicKey
	leeway time.Duration
	// issuer and audience are the required iss and aud, if any.
	issuer, audience string
}

// ToVerifier validates config and returns its Verifier.
func (config JWTConfig) ToVerifier() (*Verifier, error) {
	var methods []string
	if config.Secret != nil {
		if len(config.Secret) < MinSecretLen {
			return nil, fmt.Errorf("auth: the HMAC secret must be at least %d bytes long, got %d", MinSecretLen, len(config.Secret))
		}
		methods = append(methods, "HS256", "HS384", "HS512")
	}
	switch k := config.PublicKey.(type) {
	case nil:
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("auth: the RSA public key has %d bits, at least %d are required", k.N.BitLen(), MinRSABits)
		}
		methods = append(methods, "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			methods = append(methods, "ES256")
		case elliptic.P384():
			methods = append(methods, "ES384")
		case elliptic.P521():
			methods = append(methods, "ES512")
		default:
			return nil, errors.New("auth: the ECDSA public key must be on curve P-256, P-384 or P-521")
		}
	default:
		return nil, fmt.Errorf("auth: unsupported public key type %T: use an RSA or ECDSA key", k)
	}
	if len(methods) == 0 {
		return nil, errors.New("auth: a signed-token verifier needs an HMAC secret or a public key")
	}
	if config.Leeway < 0 {
		return nil, errors.New("auth: the leeway must not be negative")
	}
	if config.Now == nil {
		config.Now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(config.Leeway),
		jwt.WithTimeFunc(config.Now),
	}
	if config.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(config.Issuer))
	}
	if config.Audience != "" {
		opts = append(opts, jwt.WithAudience(config.Audience))
	}
	return &Verifier{parser: jwt.NewParser(opts...), secret: config.Secret, key: config.PublicKey, leeway: config.Leeway,
		issuer: config.Issuer, audience: config.Audience}, nil
}

// Verify checks token's signature and claims and returns the claims. Its
// errors say what is wrong in words safe to show to the client (they never
// contain the token).
func (v *Verifier) Verify(token string) (*Claims, error) {
	if len(token) > maxSignedTokenLen {
		return nil, errors.New("token is too long")
	}
	claims := &Claims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keyFor); err != nil {
		return nil, v.describeJWTError(err, claims)
	}
	return claims, nil
}

// Until returns the end of the validity of claims as Verify accepted them:
// the expiry plus the leeway.
func (v *Verifier) Until(claims *Claims) time.Time {
	if claims.ExpiresAt == nil {
		return time.Time{} // Verify requires exp; kept total for other callers
	}
	return claims.ExpiresAt.Add(v.leeway)
}

// keyFor hands the parser the key of the token's algorithm family. The
// parser has already refused algorithms outside the configured set; this is
// the second lock on the same door (an HMAC token never gets a public key).
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	switch t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		if v.secret != nil {
			return v.secret, nil
		}
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		if k, ok := v.key.(*rsa.PublicKey); ok {
			return k, nil
		}
	case *jwt.SigningMethodECDSA:
		if k, ok := v.key.(*ecdsa.PublicKey); ok {
			return k, nil
		}
	}
	return nil, jwt.ErrTokenSignatureInvalid
}

// describeJWTError turns the parser's error into short reasons (the claims
// validation reports every failed check; so does this).
func (v *Verifier) describeJWTError(err error, claims *Claims) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errors.New("malformed token")
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errors.New("token signature or algorithm not accepted")
	}
	var reasons []string
	if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		if claims.ExpiresAt == nil {
			reasons = append(reasons, "token has no expiry (exp is required)")
		}
		if v.audience != "" && len(claims.Audience) == 0 {
			reasons = append(reasons, "token has no audience (aud is required)")
		}
		if v.issuer != "" && claims.Issuer == "" {
			reasons = append(reasons, "token has no issuer (iss is required)")
		}
	}
	for _, r := range []struct {
		err    error
		reason string
	}{
		{jwt.ErrTokenExpired, "token has expired"},
		{jwt.ErrTokenNotValidYet, "token is not valid yet (nbf)"},
		{jwt.ErrTokenInvalidIssuer, "token has the wrong issuer (iss)"},
		{jwt.ErrTokenInvalidAudience, "token has the wrong audience (aud)"},
	} {
		if errors.Is(err, r.err) {
			reasons = append(reasons, r.reason)
		}
	}
	var pe *patternClaimError
	if errors.As(err, &pe) {
		reasons = append(reasons, "token has invalid claims: "+pe.Error())
	}
	if len(reasons) == 0 {
		return errors.New("invalid token")
	}
	return errors.New(strings.Join(reasons, "; "))
}
