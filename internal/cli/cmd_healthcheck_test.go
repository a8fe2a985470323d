package cli

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexor/plexor/internal/selfsigned"
)

// TestHealthClientSkipsVerificationOnLoopbackOnly: the health check skips
// certificate verification only for the service's own address on loopback;
// its own address elsewhere, and any --url, are verified (trusting the
// certificate file); HTTP needs no TLS; an unreadable certificate file is
// an error naming PLEXOR_TLS_CERT_FILE. (The connections themselves:
// TestCLIHealthcheckTLS in e2e/healthcheck_test.go.)
func TestHealthClientSkipsVerificationOnLoopbackOnly(t *testing.T) {
	pair, err := selfsigned.New("plexor.example.com", "plexor.example.com")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pair.CertPEM)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certFile, pair.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		target     string
		own        bool
		certFile   string
		wantSkip   bool
		wantRoots  bool   // the certificate file is among the trusted roots
		wantErrSub string // an error containing this; "": none
	}{
		{"own address on 127.0.0.1", "https://127.0.0.1:8443", true, certFile, true, false, ""},
		{"own address on ::1", "https://[::1]:8443", true, certFile, true, false, ""},
		{"own address on localhost", "https://localhost:8443", true, certFile, true, false, ""},
		{"own address beyond loopback", "https://10.1.2.3:8443", true, certFile, false, true, ""},
		{"--url on loopback", "https://127.0.0.1:8443", false, certFile, false, true, ""},
		{"--url without TLS variables", "https://127.0.0.1:8443", false, "", false, false, ""},
		{"unreadable certificate file", "https://10.1.2.3:8443", true, certFile + ".missing", false, false, "PLEXOR_TLS_CERT_FILE"},
		{"HTTP", "http://127.0.0.1:8080", true, certFile, false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target, _ := url.Parse(tc.target)
			c, err := healthClient(target, tc.own, tc.certFile)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if target.Scheme == "http" {
				if c != http.DefaultClient {
					t.Errorf("over HTTP got a client of its own, want http.DefaultClient")
				}
				return
			}
			cfg := c.Transport.(*http.Transport).TLSClientConfig
			if cfg.InsecureSkipVerify != tc.wantSkip {
				t.Errorf("InsecureSkipVerify %v, want %v", cfg.InsecureSkipVerify, tc.wantSkip)
			}
			_, verr := leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: "plexor.example.com"})
			if trusted := cfg.RootCAs != nil && verr == nil; trusted != tc.wantRoots {
				t.Errorf("the certificate file trusted: %v, want %v", trusted, tc.wantRoots)
			}
		})
	}
}
