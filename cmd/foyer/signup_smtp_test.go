package main

// Sign-up mail over real SMTP: a go-smtp server in the test that requires
// STARTTLS and AUTH PLAIN, Foyer configured with smtp:// and made to trust
// the server's self-signed CA through Config.smtpTLS.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpCert is a self-signed CA certificate for 127.0.0.1 and a pool
// trusting it.
func smtpCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "foyer sign-up test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// smtpMessage is one message the test server accepted.
type smtpMessage struct {
	from  string
	rcpts []string
	data  []byte
}

// smtpSink is a submission server that refuses MAIL before STARTTLS and
// AUTH, and keeps what it accepts.
type smtpSink struct {
	user, pass string

	mu   sync.Mutex
	msgs []smtpMessage
	log  []string
}

func (s *smtpSink) messages() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.msgs...)
}

func (s *smtpSink) note(e string) {
	s.mu.Lock()
	s.log = append(s.log, e)
	s.mu.Unlock()
}

type smtpSinkSession struct {
	sink   *smtpSink
	conn   *smtp.Conn
	authed bool
	from   string
	rcpts  []string
}

func (s *smtpSinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if _, ok := s.conn.TLSConnectionState(); !ok {
			return errors.New("AUTH before STARTTLS")
		}
		if user != s.sink.user || pass != s.sink.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if _, ok := s.conn.TLSConnectionState(); !ok {
		s.sink.note("MAIL without TLS")
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *smtpSinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *smtpSinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, smtpMessage{from: s.from, rcpts: s.rcpts, data: b})
	s.sink.mu.Unlock()
	return nil
}

func (s *smtpSinkSession) Reset()        { s.from, s.rcpts = "", nil }
func (s *smtpSinkSession) Logout() error { return nil }

type smtpQuiet struct{}

func (smtpQuiet) Printf(string, ...any) {}
func (smtpQuiet) Println(...any)        {}

// startSMTPSink runs the server on 127.0.0.1:0 and returns its smtp:// URL
// (with credentials) and a pool trusting its certificate.
func startSMTPSink(t *testing.T) (*smtpSink, string, *x509.CertPool) {
	t.Helper()
	cert, pool := smtpCert(t)
	sink := &smtpSink{user: "foyer", pass: "p@ss word " + suffix()}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSinkSession{sink: sink, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}} // STARTTLS offered
	srv.AllowInsecureAuth = false
	srv.ErrorLog = smtpQuiet{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	u := url.URL{Scheme: "smtp", User: url.UserPassword(sink.user, sink.pass), Host: ln.Addr().String()}
	return sink, u.String(), pool
}

// mailParts parses a message: its headers, and the decoded body of each
// part of its multipart/alternative body by media type.
func mailParts(t *testing.T, raw []byte) (mail.Header, map[string]string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, raw)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = p
		switch strings.ToLower(p.Header.Get("Content-Transfer-Encoding")) {
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, p)
		case "quoted-printable":
			r = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[pt] = string(b)
	}
	return m.Header, parts
}

func TestSignUpMailOverSMTP(t *testing.T) {
	sink, smtpURL, pool := startSMTPSink(t)
	env := startSUEnv(t, func(c *Config) {
		c.SMTPURL = smtpURL
		c.smtpTLS = &tls.Config{RootCAs: pool}
	})
	c := env.rp(env.a, true, oidc.ScopeOpenID, "email")
	b := env.browser()
	start, verifier := signUpPage(t, b, c)
	addr := "smtp-" + suffix() + "@example.org"
	p := submitEmail(b, start, addr)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Check your email") {
		t.Fatalf("after the address: %d %s", p.status, p.body)
	}
	msgs := sink.messages()
	if len(msgs) != 1 {
		t.Fatalf("the SMTP server received %d messages (log %v), want 1", len(msgs), sink.log)
	}
	m := msgs[0]
	if len(m.rcpts) != 1 || m.rcpts[0] != addr || !strings.HasSuffix(m.from, "@127.0.0.1") {
		t.Fatalf("envelope: from %q to %q", m.from, m.rcpts)
	}
	h, parts := mailParts(t, m.data)
	to, err := mail.ParseAddressList(h.Get("To"))
	if err != nil || len(to) != 1 || to[0].Address != addr || h.Get("Cc") != "" || h.Get("Bcc") != "" {
		t.Fatalf("To %q Cc %q Bcc %q (%v)", h.Get("To"), h.Get("Cc"), h.Get("Bcc"), err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if !strings.HasPrefix(subject, "Your verification code") {
		t.Fatalf("Subject %q", subject)
	}
	text, html := parts["text/plain"], parts["text/html"]
	c1, c2 := reMailCode.FindStringSubmatch(text), regexp.MustCompile(`>(\d{8})<`).FindStringSubmatch(html)
	if c1 == nil || c2 == nil || c1[1] != c2[1] {
		t.Fatalf("code in text %v and HTML %v parts:\n%s\n---\n%s", c1, c2, text, html)
	}
	code := c1[1]
	if strings.Contains(subject, code) {
		t.Fatal("the code is in the Subject header")
	}

	// The code from the SMTP message completes the sign-up.
	p = b.submit(p, map[string]string{"code": code})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Finish creating your account") {
		t.Fatalf("after the code: %d %s", p.status, p.body)
	}
	_, _, claims := idClaims(t, c, submitProfile(b, p), verifier)
	if claims["email"] != addr || claims["tid"] != env.a.id {
		t.Fatalf("claims %v", claims)
	}
	if len(sink.messages()) != 1 {
		t.Fatalf("more mail than the code: %d", len(sink.messages()))
	}
}

// TestSignUpSMTPRefusesUntrustedServer: without the test CA the sender
// refuses the server's certificate; the page says the mail could not be
// sent (503, retry later) and nothing reaches the server.
func TestSignUpSMTPRefusesUntrustedServer(t *testing.T) {
	sink, smtpURL, _ := startSMTPSink(t)
	env := startSUEnv(t, func(c *Config) { c.SMTPURL = smtpURL })
	c := env.rp(env.a, true, oidc.ScopeOpenID)
	b := env.browser()
	start, _ := signUpPage(t, b, c)
	p := submitEmail(b, start, "untrusted-"+suffix()+"@example.org")
	wantRefusal(t, p, http.StatusServiceUnavailable, "mailFailed")
	if p.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if n := len(sink.messages()); n != 0 {
		t.Fatalf("%d messages delivered to an untrusted server", n)
	}
}
