package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureScheme names how a webhook sender signs its deliveries. Both
// schemes are HMAC-SHA256 over the exact request body, keyed with a secret
// shared between the sender and Plexor.
type SignatureScheme string

const (
	// SchemeGitHub is GitHub's scheme: the header X-Hub-Signature-256 holds
	// "sha256=" and the hex HMAC-SHA256 of the body. It carries no timestamp,
	// so it cannot reject a replayed delivery by age (idempotency keys can).
	SchemeGitHub SignatureScheme = "github"
	// SchemePlexor is a timestamped scheme in the style of Stripe's: the
	// header X-Plexor-Signature holds "t=<unix seconds>,v1=<hex>" where the
	// hex is the HMAC-SHA256 of "<t>.<body>". Several v1 entries may be sent
	// (one per secret while a sender rotates its secret); one must match.
	// A timestamp further than the tolerance from the clock is refused.
	SchemePlexor SignatureScheme = "plexor"
)

// Header names of the signature schemes.
const (
	GitHubSignatureHeader = "X-Hub-Signature-256"
	PlexorSignatureHeader = "X-Plexor-Signature"
)

// MinWebhookSecretLen is the shortest accepted webhook secret, in bytes.
const MinWebhookSecretLen = 16

// SignatureHeader names the header that carries a scheme's signature.
func SignatureHeader(scheme SignatureScheme) string {
	if scheme == SchemeGitHub {
		return GitHubSignatureHeader
	}
	return PlexorSignatureHeader
}

// DefaultTolerance is how far a SchemePlexor timestamp may be from the clock.
const DefaultTolerance = 5 * time.Minute

// Signature verification failures. The errors returned by VerifyGitHub and
// VerifyPlexor wrap one of these and add what exactly was wrong.
var (
	ErrMissingSignature   = errors.New("auth: missing signature")
	ErrMalformedSignature = errors.New("auth: malformed signature")
	ErrSignatureMismatch  = errors.New("auth: signature does not match")
	ErrSignatureExpired   = errors.New("auth: signature timestamp outside the tolerance")
)

// CheckScheme reports whether s is a known scheme, or why not.
func CheckScheme(s SignatureScheme) error {
	switch s {
	case SchemeGitHub, SchemePlexor:
		return nil
	}
	return fmt.Errorf("auth: unknown signature scheme %q: use github or plexor", string(s))
}

// CheckSecret reports why a webhook secret is unacceptable, or nil. Any
// bytes are allowed; only the length is checked.
func CheckSecret(secret string) error {
	if len(secret) < MinWebhookSecretLen {
		return fmt.Errorf("auth: a webhook secret must be at least %d characters long", MinWebhookSecretLen)
	}
	return nil
}

// SignGitHub returns the X-Hub-Signature-256 value for body under secret.
func SignGitHub(secret, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, nil, body))
}

// SignPlexor returns an X-Plexor-Signature value for body at time t, with
// one v1 entry per secret (a sender rotating its secret signs with both).
func SignPlexor(t time.Time, body []byte, secrets ...[]byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		b.WriteString(",v1=" + hex.EncodeToString(mac(s, []byte(ts+"."), body)))
	}
	return b.String()
}

// VerifyGitHub checks an X-Hub-Signature-256 header value against body: it
// must be "sha256=<64 hex digits>" and match the HMAC under one of secrets.
func VerifyGitHub(header string, body []byte, secrets [][]byte) error {
	if header == "" {
		return fmt.Errorf("%w: the %s header is missing", ErrMissingSignature, GitHubSignatureHeader)
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	sig, err := hex.DecodeString(hexSig)
	if !ok || err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("%w: the %s header must be sha256=<64 hex digits>", ErrMalformedSignature, GitHubSignatureHeader)
	}
	if !matchMAC(secrets, nil, body, [][]byte{sig}) {
		return fmt.Errorf("%w: %s is not the HMAC-SHA256 of this body under the hook's secret", ErrSignatureMismatch, GitHubSignatureHeader)
	}
	return nil
}

// VerifyPlexor checks an X-Plexor-Signature header value against body: one
// t=<unix seconds> and one or more v1=<64 hex digits>, separated by commas
// (other keys are ignored, for later versions). One v1 must be the HMAC of
// "<t>.<body>" under one of secrets, and t must be within tolerance of now.
func VerifyPlexor(header string, body []byte, secrets [][]byte, now time.Time, tolerance time.Duration) error {
	_, err := verifyPlexor(header, body, secrets, now, tolerance)
	return err
}

// verifyPlexor is VerifyPlexor; it also returns the verified timestamp as
// sent (the text the MAC covers).
func verifyPlexor(header string, body []byte, secrets [][]byte, now time.Time, tolerance time.Duration) (string, error) {
	if header == "" {
		return "", fmt.Errorf("%w: the %s header is missing", ErrMissingSignature, PlexorSignatureHeader)
	}
	malformed := fmt.Errorf("%w: the %s header must be t=<unix seconds>,v1=<64 hex digits>[,v1=…]", ErrMalformedSignature, PlexorSignatureHeader)
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", malformed
		}
		switch key {
		case "t":
			if ts != "" {
				return "", malformed
			}
			ts = value
		case "v1":
			sig, err := hex.DecodeString(value)
			if err != nil || len(sig) != sha256.Size {
				return "", malformed
			}
			sigs = append(sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || unix < 0 || len(sigs) == 0 {
		return "", malformed
	}
	if !matchMAC(secrets, []byte(ts+"."), body, sigs) {
		return "", fmt.Errorf("%w: no v1 in %s is the HMAC-SHA256 of \"<t>.<body>\" under the hook's secret", ErrSignatureMismatch, PlexorSignatureHeader)
	}
	// Checked after the signature, so only a genuine sender learns that its
	// clock or its queue is the problem. time.Sub saturates, so any t is safe.
	if age := now.Sub(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
		return "", fmt.Errorf("%w: t=%s is more than %s away from the server's clock (a replayed or delayed delivery, or a skewed clock)", ErrSignatureExpired, ts, tolerance)
	}
	return ts, nil
}

// mac is HMAC-SHA256(secret, prefix || body).
func mac(secret, prefix, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(prefix)
	h.Write(body)
	return h.Sum(nil)
}

// matchMAC reports whether one of presented is the MAC of prefix||body under
// one of secrets. It compares in constant time and always compares every
// pair, so timing reveals neither which secret nor which signature matched.
func matchMAC(secrets [][]byte, prefix, body []byte, presented [][]byte) bool {
	found := 0
	for _, s := range secrets {
		want := mac(s, prefix, body)
		for _, sig := range presented {
			found |= subtle.ConstantTimeCompare(want, sig)
		}
	}
	return found == 1
}
