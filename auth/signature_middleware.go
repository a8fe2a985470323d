package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// SignatureConfig configures the webhook signature middleware.
type SignatureConfig struct {
	// Skipper defines a function to skip the middleware.
	Skipper middleware.Skipper
	// Scheme is how deliveries are signed: SchemeGitHub or SchemePlexor.
	Scheme SignatureScheme
	// Secrets are the accepted secrets; at least one, each MinWebhookSecretLen or
	// longer. A signature under any of them is accepted, so a secret can be
	// rotated without refusing deliveries signed with the previous one.
	Secrets []string
	// Tolerance is how far a SchemePlexor timestamp may be from Clock, either
	// way. Default DefaultTolerance.
	Tolerance time.Duration
	// Clock tells the time for the tolerance check. Default time.Now.
	Clock func() time.Time
}

// DefaultSignatureConfig is the default SignatureConfig (it has no scheme
// and no secrets: set them).
var DefaultSignatureConfig = SignatureConfig{
	Skipper:   middleware.DefaultSkipper,
	Tolerance: DefaultTolerance,
	Clock:     time.Now,
}

// SignatureWithConfig returns the middleware for config, panicking when it
// is invalid. Use config.ToMiddleware to get the error instead.
func SignatureWithConfig(config SignatureConfig) echo.MiddlewareFunc {
	mw, err := config.ToMiddleware()
	if err != nil {
		panic(err)
	}
	return mw
}

// ToMiddleware validates config and returns the middleware. It reads the
// whole body (put a body limit in front of it), verifies the signature and
// hands the body on unchanged to the next handler, with the delivery's
// replay key (DeliveryKey) in the context. A missing, malformed or
// wrong signature, or a timestamp outside the tolerance, is a 401 whose
// message says which; the next handler is not called.
func (config SignatureConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if config.Skipper == nil {
		config.Skipper = DefaultSignatureConfig.Skipper
	}
	if config.Tolerance == 0 {
		config.Tolerance = DefaultSignatureConfig.Tolerance
	}
	if config.Clock == nil {
		config.Clock = DefaultSignatureConfig.Clock
	}
	if err := CheckScheme(config.Scheme); err != nil {
		return nil, err
	}
	if config.Tolerance < 0 {
		return nil, errors.New("auth: the signature tolerance must not be negative")
	}
	if len(config.Secrets) == 0 {
		return nil, errors.New("auth: at least one webhook secret is required")
	}
	secrets := make([][]byte, len(config.Secrets))
	for i, s := range config.Secrets {
		if err := CheckSecret(s); err != nil {
			return nil, err
		}
		secrets[i] = []byte(s)
	}
	// verify checks the request's signature and returns what the MAC
	// covers before the body: nothing (GitHub) or "<t>." (Plexor).
	verify := func(r *http.Request, body []byte) (string, error) {
		if config.Scheme == SchemeGitHub {
			return "", VerifyGitHub(r.Header.Get(GitHubSignatureHeader), body, secrets)
		}
		ts, err := verifyPlexor(r.Header.Get(PlexorSignatureHeader), body, secrets, config.Clock(), config.Tolerance)
		return ts + ".", err
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if config.Skipper(c) {
				return next(c)
			}
			req := c.Request()
			body, err := io.ReadAll(req.Body)
			if err != nil {
				var he *echo.HTTPError
				if errors.As(err, &he) { // the body-limit middleware's 413
					return he
				}
				return echo.NewHTTPError(http.StatusBadRequest, "the request body could not be read")
			}
			prefix, err := verify(req, body)
			if err != nil {
				return echo.NewHTTPError(http.StatusUnauthorized, strings.TrimPrefix(err.Error(), "auth: "))
			}
			c.Set(deliveryKey, signedDigest(prefix, body))
			req.Body = io.NopCloser(bytes.NewReader(body))
			return next(c)
		}
	}, nil
}

// deliveryKey is the context key of a verified delivery's replay key.
const deliveryKey = "auth.delivery"

// DeliveryKey returns the replay key of the delivery the signature
// middleware verified for c: the hex SHA-256 of exactly what the signature
// covers (the body; for SchemePlexor "<t>.<body>"). It does not depend on how
// the signature header is spelled (hex case, spaces, order, extra entries)
// nor on which secret signed, so every copy of one delivery has one key.
// ok is false when no delivery was verified.
func DeliveryKey(c echo.Context) (key string, ok bool) {
	key, ok = c.Get(deliveryKey).(string)
	return key, ok
}

// signedDigest is the hex SHA-256 of prefix||body.
func signedDigest(prefix string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(prefix))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
