package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// MaxH2Streams bounds PLEXOR_H2_MAX_STREAMS.
const MaxH2Streams = 10_000

// validateTLS checks the combinations of the TLS and HTTP/2 variables; the
// files themselves are read by loadTLSPair.
func (c Config) validateTLS() []error {
	var errs []error
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		errs = append(errs, fmt.Errorf("%sTLS_KEY_FILE: must be set with PLEXOR_TLS_CERT_FILE (the certificate's private key, PEM)", EnvPrefix))
	case c.TLSCertFile == "" && c.TLSKeyFile != "":
		errs = append(errs, fmt.Errorf("%sTLS_CERT_FILE: must be set with PLEXOR_TLS_KEY_FILE (the certificate chain, PEM)", EnvPrefix))
	}
	if c.H2C && (c.TLSCertFile != "" || c.TLSKeyFile != "") {
		errs = append(errs, fmt.Errorf("%sH2C: has no effect with PLEXOR_TLS_CERT_FILE (a TLS server speaks HTTP/2 by ALPN and nothing in cleartext)", EnvPrefix))
	}
	if c.H2MaxStreams < 1 || c.H2MaxStreams > MaxH2Streams {
		errs = append(errs, fmt.Errorf("%sH2_MAX_STREAMS: must be between 1 and %d streams per HTTP/2 connection, got %d", EnvPrefix, MaxH2Streams, c.H2MaxStreams))
	}
	return errs
}

// TLS reports whether the service serves HTTPS (PLEXOR_TLS_CERT_FILE and
// PLEXOR_TLS_KEY_FILE are set).
func (c Config) TLS() bool { return c.TLSCertFile != "" }

// TLSCertificate returns the pair Load read from PLEXOR_TLS_CERT_FILE and
// PLEXOR_TLS_KEY_FILE, or nil without TLS.
func (c Config) TLSCertificate() *tls.Certificate { return c.tlsCert }

// loadTLSPair reads the pair of PLEXOR_TLS_CERT_FILE and PLEXOR_TLS_KEY_FILE,
// if set.
func (c *Config) loadTLSPair() error {
	if !c.TLS() {
		return nil
	}
	cert, err := LoadTLSPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return err
	}
	c.tlsCert = &cert
	return nil
}

// LoadTLSPair reads a certificate chain and its private key from PEM files
// (at start-up and on each reload). Its errors name the variable at fault:
// PLEXOR_TLS_CERT_FILE for a certificate file that cannot be read or holds
// no certificate, PLEXOR_TLS_KEY_FILE for a key file that cannot be read or
// parsed, or whose key does not match the certificate.
func LoadTLSPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%sTLS_CERT_FILE: %w", EnvPrefix, err)
	}
	if err := checkCertPEM(certPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("%sTLS_CERT_FILE: %s: %w", EnvPrefix, certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%sTLS_KEY_FILE: %w", EnvPrefix, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%sTLS_KEY_FILE: %s: %v (it must be the PEM private key of the certificate in PLEXOR_TLS_CERT_FILE)", EnvPrefix, keyFile, err)
	}
	return cert, nil
}

// checkCertPEM reports whether data holds at least one certificate, each
// one parseable.
func checkCertPEM(data []byte) error {
	found := false
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("a certificate that cannot be parsed: %w", err)
		}
		found = true
	}
	if !found {
		return errors.New("no PEM certificate found (want a CERTIFICATE block, the server's certificate first)")
	}
	return nil
}
