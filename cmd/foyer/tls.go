package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Serving HTTPS directly: with --tls-cert-file and --tls-key-file, or, in
// --dev with an https://localhost public URL, with a certificate from a
// local development CA generated here. MSAL refuses http:// authorities, so
// this is what lets an MSAL app run against `foyer serve --dev`.

// devCAFile and devCAKeyFile are the development CA's certificate (the file
// to trust: NODE_EXTRA_CA_CERTS, a browser's authorities) and its key,
// kept in the CA folder so that a browser trusts every later run too.
const (
	devCAFile    = "dev-ca.pem"
	devCAKeyFile = "dev-ca-key.pem"
)

// devTLS reports whether --dev generates the server's certificate: --dev,
// an https public URL on a loopback host, and no certificate files.
func (c Config) devTLS() bool {
	u, err := url.Parse(c.PublicURL)
	return c.Dev && c.TLSCertFile == "" && c.TLSKeyFile == "" &&
		err == nil && u.Scheme == "https" && isLoopback(u.Hostname())
}

// tlsConfig returns the server's TLS configuration, or nil to serve plain
// HTTP. In dev TLS it says on out where the CA's certificate is.
func tlsConfig(c Config, out io.Writer) (*tls.Config, error) {
	switch {
	case c.TLSCertFile != "":
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert-file/--tls-key-file: %w", err)
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
	case c.devTLS():
		dir := c.devCADir
		if dir == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				return nil, fmt.Errorf("dev TLS: no folder for the development CA: %w", err)
			}
			dir = filepath.Join(base, "foyer")
		}
		ca, caKey, err := loadOrCreateDevCA(dir, time.Now())
		if err != nil {
			return nil, fmt.Errorf("dev TLS: %w", err)
		}
		leaf, err := devLeaf(ca, caKey, time.Now())
		if err != nil {
			return nil, fmt.Errorf("dev TLS: %w", err)
		}
		fmt.Fprintf(out, "\nFoyer serves HTTPS with a certificate from its development CA:\n  %s\n"+
			"  trust it: NODE_EXTRA_CA_CERTS=%[1]s (Node, MSAL), or import it in a browser\n",
			filepath.Join(dir, devCAFile))
		return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{leaf}}, nil
	}
	return nil, nil
}

// loadOrCreateDevCA reads the development CA from dir, or creates one (ECDSA
// P-256, ten years, name-constrained to loopback names and addresses, so
// that trusting it trusts nothing else) when it is missing or expired. The
// key file is readable by its owner only.
func loadOrCreateDevCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, devCAFile), filepath.Join(dir, devCAKeyFile)
	if ca, key, err := readDevCA(certPath, keyPath); err == nil && now.Before(ca.NotAfter.Add(-24*time.Hour)) {
		return ca, key, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tpl := &x509.Certificate{
		SerialNumber:                serial(),
		Subject:                     pkix.Name{CommonName: "Foyer development CA (localhost only)"},
		NotBefore:                   now.Add(-time.Hour),
		NotAfter:                    now.AddDate(10, 0, 0),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLenZero:              true,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{"localhost"},
		PermittedIPRanges: []*net.IPNet{
			{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
			{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

func readDevCA(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, nil, errors.New("not PEM")
	}
	ca, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(ca.PublicKey) || !ca.IsCA {
		return nil, nil, errors.New("the key does not match the CA")
	}
	return ca, key, nil
}

// devLeaf issues the server's certificate for localhost, 127.0.0.1 and
// ::1, valid for 30 days (a new one at every start).
func devLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(0, 0, 30),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}, nil
}

// serial is a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}
