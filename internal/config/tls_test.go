package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexor/plexor/internal/selfsigned"
)

// writeTLSFiles writes pair's certificate and key into dir and returns
// their paths.
func writeTLSFiles(t *testing.T, dir, name string, pair selfsigned.Pair) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pair.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pair.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestLoadConfigTLS: a good pair loads (and defaults hold); every bad TLS
// or HTTP/2 setting stops Load with an error naming the variable at fault.
func TestLoadConfigTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one, err := selfsigned.New("one", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := selfsigned.New("other", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writeTLSFiles(t, dir, "one", one)
	_, otherKey := writeTLSFiles(t, dir, "other", other)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a PEM file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	t.Run("a good pair", func(t *testing.T) {
		cfg, err := Load(map[string]string{"PLEXOR_TLS_CERT_FILE": certFile, "PLEXOR_TLS_KEY_FILE": keyFile})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if !cfg.TLS() || cfg.TLSCertificate() == nil || cfg.TLSCertificate().Leaf.Subject.CommonName != "one" {
			t.Errorf("TLS() = %v, certificate = %v; want the pair of %s", cfg.TLS(), cfg.TLSCertificate(), certFile)
		}
		if cfg.H2MaxStreams != 250 || cfg.H2C {
			t.Errorf("H2MaxStreams = %d, H2C = %v; want 250, false", cfg.H2MaxStreams, cfg.H2C)
		}
	})
	t.Run("no TLS", func(t *testing.T) {
		cfg, err := Load(map[string]string{"PLEXOR_H2C": "true", "PLEXOR_H2_MAX_STREAMS": "1000"})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if cfg.TLS() || cfg.TLSCertificate() != nil || !cfg.H2C || cfg.H2MaxStreams != 1000 {
			t.Errorf("TLS() = %v, H2C = %v, H2MaxStreams = %d", cfg.TLS(), cfg.H2C, cfg.H2MaxStreams)
		}
	})
	tests := []struct {
		name        string
		env         map[string]string
		wantInError string
	}{
		{"certificate without key", map[string]string{"PLEXOR_TLS_CERT_FILE": certFile}, "PLEXOR_TLS_KEY_FILE: must be set with PLEXOR_TLS_CERT_FILE"},
		{"key without certificate", map[string]string{"PLEXOR_TLS_KEY_FILE": keyFile}, "PLEXOR_TLS_CERT_FILE: must be set with PLEXOR_TLS_KEY_FILE"},
		{"missing certificate", map[string]string{"PLEXOR_TLS_CERT_FILE": missing, "PLEXOR_TLS_KEY_FILE": keyFile}, "PLEXOR_TLS_CERT_FILE: open " + missing + ": no such file"},
		{"missing key", map[string]string{"PLEXOR_TLS_CERT_FILE": certFile, "PLEXOR_TLS_KEY_FILE": missing}, "PLEXOR_TLS_KEY_FILE: open " + missing + ": no such file"},
		{"unreadable certificate (a directory)", map[string]string{"PLEXOR_TLS_CERT_FILE": dir, "PLEXOR_TLS_KEY_FILE": keyFile}, "PLEXOR_TLS_CERT_FILE: read " + dir},
		{"unreadable key (a directory)", map[string]string{"PLEXOR_TLS_CERT_FILE": certFile, "PLEXOR_TLS_KEY_FILE": dir}, "PLEXOR_TLS_KEY_FILE: read " + dir},
		{"certificate not PEM", map[string]string{"PLEXOR_TLS_CERT_FILE": garbage, "PLEXOR_TLS_KEY_FILE": keyFile}, "PLEXOR_TLS_CERT_FILE: " + garbage + ": no PEM certificate found"},
		{"key file holds the certificate", map[string]string{"PLEXOR_TLS_CERT_FILE": certFile, "PLEXOR_TLS_KEY_FILE": certFile}, "PLEXOR_TLS_KEY_FILE: " + certFile + ": tls:"},
		{"key not PEM", map[string]string{"PLEXOR_TLS_CERT_FILE": certFile, "PLEXOR_TLS_KEY_FILE": garbage}, "PLEXOR_TLS_KEY_FILE: " + garbage + ": tls:"},
		{"mismatched pair", map[string]string{"PLEXOR_TLS_CERT_FILE": certFile, "PLEXOR_TLS_KEY_FILE": otherKey}, "PLEXOR_TLS_KEY_FILE: " + otherKey + ": tls: private key does not match public key"},
		{"h2c with TLS", map[string]string{"PLEXOR_TLS_CERT_FILE": certFile, "PLEXOR_TLS_KEY_FILE": keyFile, "PLEXOR_H2C": "true"}, "PLEXOR_H2C: has no effect with PLEXOR_TLS_CERT_FILE"},
		{"no streams", map[string]string{"PLEXOR_H2_MAX_STREAMS": "0"}, "PLEXOR_H2_MAX_STREAMS: must be between 1 and 10000"},
		{"too many streams", map[string]string{"PLEXOR_H2_MAX_STREAMS": "10001"}, "PLEXOR_H2_MAX_STREAMS: must be between 1 and 10000"},
		{"h2c not a bool", map[string]string{"PLEXOR_H2C": "maybe"}, "PLEXOR_H2C: invalid value: expected true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.wantInError) {
				t.Errorf("Load error = %v, want one containing %q", err, tt.wantInError)
			}
		})
	}
}
