package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/foyer-id/foyer/templates"
)

const (
	testUser = "foyer"
	testPass = "s3cret pass/word" // needs percent-encoding in a URL
)

// testCert returns a self-signed certificate for 127.0.0.1 and localhost
// and a pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "foyer test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// delivery is one message the test server accepted.
type delivery struct {
	from  string
	rcpts []string
	data  []byte
	tls   bool
	user  string
}

// recorder keeps everything a test server saw.
type recorder struct {
	conns atomic.Int32

	mu         sync.Mutex
	events     []string // "AUTH user", "MAIL from", "RCPT to", "DATA"
	deliveries []delivery
}

func (r *recorder) event(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) snapshot() ([]string, []delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...), append([]delivery(nil), r.deliveries...)
}

type serverOptions struct {
	startTLS     bool          // offer STARTTLS
	implicitTLS  bool          // TLS from the first byte (smtps)
	insecureAuth bool          // offer AUTH without TLS
	hangData     chan struct{} // when set, DATA blocks until it is closed
}

// startServer runs a go-smtp server on 127.0.0.1:0 that accepts
// testUser/testPass with AUTH PLAIN and requires authentication.
func startServer(t *testing.T, o serverOptions) (addr string, pool *x509.CertPool, rec *recorder) {
	t.Helper()
	cert, pool := testCert(t)
	rec = &recorder{}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{rec: rec, conn: c, hang: o.hangData}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.AllowInsecureAuth = o.insecureAuth
	s.ErrorLog = discardLogger{}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}
	if o.startTLS {
		s.TLSConfig = tlsConfig
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener = &countingListener{Listener: l, n: &rec.conns}
	if o.implicitTLS {
		ln = tls.NewListener(ln, tlsConfig)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	if o.hangData != nil {
		t.Cleanup(func() { close(o.hangData) }) // runs before s.Close
	}
	return l.Addr().String(), pool, rec
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

type session struct {
	rec   *recorder
	conn  *smtp.Conn
	hang  chan struct{}
	user  string
	from  string
	rcpts []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.rec.event("AUTH %s", username)
		if username != testUser || password != testPass {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.rec.event("MAIL %s", from)
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rec.event("RCPT %s", to)
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	s.rec.event("DATA")
	if s.hang != nil {
		<-s.hang
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.rec.mu.Lock()
	s.rec.deliveries = append(s.rec.deliveries, delivery{from: s.from, rcpts: s.rcpts, data: b, tls: isTLS, user: s.user})
	s.rec.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.rcpts = "", nil }
func (s *session) Logout() error { return nil }

// newSender returns an SMTP sender for addr with the test credentials.
func newSender(t *testing.T, scheme, addr string, pool *x509.CertPool, timeout time.Duration) *SMTP {
	t.Helper()
	raw := fmt.Sprintf("%s://%s:%s@%s", scheme, testUser, "s3cret%20pass%2Fword", addr)
	s, err := NewSMTP(raw, SMTPConfig{
		PublicURL: "https://id.example.test:8443/",
		TLSConfig: &tls.Config{RootCAs: pool},
		Timeout:   timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// part is one decoded MIME part.
type part struct {
	contentType string
	body        string
}

// parseMessage parses a message sent by SMTP.Send: headers, and the parts
// of its multipart/alternative body, quoted-printable decoded.
func parseMessage(t *testing.T, data []byte) (mail.Header, []part) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, data)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	var parts []part
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part{p.Header.Get("Content-Type"), strings.ReplaceAll(string(b), "\r\n", "\n")})
	}
	return msg.Header, parts
}

func renderCode(t *testing.T, code string) templates.Email {
	t.Helper()
	set, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	e, err := set.VerificationCode(templates.VerificationCodeEmail{AppName: "Café Contoso", Code: code, MinutesValid: 10})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSMTPDelivers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scheme string
		server serverOptions
	}{
		{"STARTTLS", "smtp", serverOptions{startTLS: true}},
		{"implicit TLS", "smtps", serverOptions{implicitTLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, pool, rec := startServer(t, tc.server)
			s := newSender(t, tc.scheme, addr, pool, 0)
			e := renderCode(t, "48151623")
			err := s.Send(t.Context(), Message{To: "alice@example.com", Subject: e.Subject, Text: e.Text, HTML: e.HTML})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}

			events, got := rec.snapshot()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1 (events %q)", len(got), events)
			}
			d := got[0]
			if !d.tls || d.user != testUser {
				t.Errorf("delivered with tls=%v user=%q, want TLS and %q", d.tls, d.user, testUser)
			}
			if d.from != "no-reply@id.example.test" {
				t.Errorf("MAIL FROM %q, want no-reply@id.example.test", d.from)
			}
			if len(d.rcpts) != 1 || d.rcpts[0] != "alice@example.com" {
				t.Errorf("RCPT TO %q, want [alice@example.com]", d.rcpts)
			}

			h, parts := parseMessage(t, d.data)
			subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
			if err != nil || subject != e.Subject {
				t.Errorf("Subject %q decodes to %q (%v), want %q", h.Get("Subject"), subject, err, e.Subject)
			}
			if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "alice@example.com" {
				t.Errorf("To %q (%v)", h.Get("To"), err)
			}
			if from, err := h.AddressList("From"); err != nil || len(from) != 1 ||
				from[0].Name != "Foyer" || from[0].Address != "no-reply@id.example.test" {
				t.Errorf("From %q (%v), want Foyer <no-reply@id.example.test>", h.Get("From"), err)
			}
			if date, err := h.Date(); err != nil || time.Since(date).Abs() > time.Minute {
				t.Errorf("Date %q (%v)", h.Get("Date"), err)
			}
			if id := h.Get("Message-Id"); !regexp.MustCompile(`^<[0-9a-f]{32}@id\.example\.test>$`).MatchString(id) {
				t.Errorf("Message-ID %q", id)
			}
			if h.Get("Auto-Submitted") != "auto-generated" {
				t.Errorf("Auto-Submitted %q", h.Get("Auto-Submitted"))
			}
			for _, k := range []string{"Bcc", "Cc", "User-Agent", "X-Mailer"} {
				if v, ok := h[k]; ok {
					t.Errorf("unexpected header %s: %q", k, v)
				}
			}

			if len(parts) != 2 {
				t.Fatalf("%d parts, want 2: %+v", len(parts), parts)
			}
			for i, want := range []struct{ mediaType, body string }{{"text/plain", e.Text}, {"text/html", e.HTML}} {
				mt, params, _ := mime.ParseMediaType(parts[i].contentType)
				if mt != want.mediaType || !strings.EqualFold(params["charset"], "utf-8") {
					t.Errorf("part %d is %q, want %s; charset=UTF-8", i, parts[i].contentType, want.mediaType)
				}
				if !strings.Contains(parts[i].body, "48151623") {
					t.Errorf("%s part lacks the code:\n%s", mt, parts[i].body)
				}
				if strings.TrimRight(parts[i].body, "\n") != strings.TrimRight(want.body, "\n") {
					t.Errorf("%s part differs from what was sent:\n%s\n---- want\n%s", mt, parts[i].body, want.body)
				}
			}
		})
	}
}

func TestSMTPFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scheme string
		server serverOptions
		trust  bool
		user   string // default testUser
		pass   string // default testPass, percent-encoded
		events []string
	}{
		// The server offers AUTH in clear and no STARTTLS: nothing, not
		// even EHLO's AUTH, may happen.
		{name: "no STARTTLS", scheme: "smtp", server: serverOptions{insecureAuth: true}, trust: true},
		{name: "no STARTTLS, no credentials", scheme: "smtp", server: serverOptions{insecureAuth: true}, trust: true, user: "-"},
		{name: "untrusted certificate STARTTLS", scheme: "smtp", server: serverOptions{startTLS: true}},
		{name: "untrusted certificate implicit TLS", scheme: "smtps", server: serverOptions{implicitTLS: true}},
		{name: "smtps to a plain server", scheme: "smtps", server: serverOptions{startTLS: true}, trust: true},
		{name: "wrong password", scheme: "smtp", server: serverOptions{startTLS: true}, trust: true,
			pass: "wrong", events: []string{"AUTH foyer"}},
		{name: "no credentials", scheme: "smtp", server: serverOptions{startTLS: true}, trust: true,
			user: "-", events: []string{"MAIL no-reply@id.example.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, pool, rec := startServer(t, tc.server)
			if !tc.trust {
				pool = x509.NewCertPool()
			}
			user, pass := testUser, "s3cret%20pass%2Fword"
			if tc.pass != "" {
				pass = tc.pass
			}
			userinfo := user + ":" + pass + "@"
			if tc.user == "-" {
				userinfo = ""
			}
			s, err := NewSMTP(tc.scheme+"://"+userinfo+addr, SMTPConfig{
				From:      "Foyer <no-reply@id.example.test>",
				TLSConfig: &tls.Config{RootCAs: pool},
				Timeout:   5 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(t.Context(), Message{To: "alice@example.com", Subject: "Code", Text: "12345678", HTML: "<p>12345678</p>"})
			if !errors.Is(err, ErrSend) {
				t.Fatalf("Send: %v, want an error wrapping ErrSend", err)
			}
			if errors.Is(err, ErrInvalidMessage) {
				t.Errorf("Send: %v also wraps ErrInvalidMessage", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q reveals the password", err)
			}
			events, got := rec.snapshot()
			if len(got) != 0 || strings.Join(events, "|") != strings.Join(tc.events, "|") {
				t.Errorf("server saw %q and received %d messages; want %q and none", events, len(got), tc.events)
			}
			if rec.conns.Load() != 1 {
				t.Errorf("%d connections, want 1", rec.conns.Load())
			}
		})
	}
}

func TestSMTPRejectsHeaderInjection(t *testing.T) {
	addr, pool, rec := startServer(t, serverOptions{startTLS: true})
	s := newSender(t, "smtp", addr, pool, 5*time.Second)
	valid := Message{To: "alice@example.com", Subject: "Your code", Text: "12345678", HTML: "<p>12345678</p>"}

	for _, m := range invalidMessages(valid) {
		t.Run(fmt.Sprintf("%q", m.To+" / "+m.Subject), func(t *testing.T) {
			err := s.Send(t.Context(), m)
			if !errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrSend) {
				t.Errorf("Send: %v, want an error wrapping ErrInvalidMessage only", err)
			}
		})
	}
	if n := rec.conns.Load(); n != 0 {
		t.Fatalf("invalid messages opened %d connections, want 0", n)
	}

	// Bodies are not headers: CRLF, header lines and even an SMTP
	// end-of-data followed by commands go through as text.
	payload := "\r\nBcc: evil@example.com\r\n.\r\nRCPT TO:<evil@example.com>\r\n\n.\n\rBcc: evil@example.com\r\n"
	m := valid
	m.Text += payload
	m.HTML += payload
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send with CRLF in bodies: %v", err)
	}
	events, got := rec.snapshot()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1 (events %q)", len(got), events)
	}
	for _, e := range events {
		if strings.Contains(e, "evil") {
			t.Errorf("server saw %q", e)
		}
	}
	if len(got[0].rcpts) != 1 || got[0].rcpts[0] != "alice@example.com" {
		t.Errorf("RCPT TO %q, want [alice@example.com]", got[0].rcpts)
	}
	h, parts := parseMessage(t, got[0].data)
	if _, ok := h["Bcc"]; ok {
		t.Errorf("message has a Bcc header: %q", h["Bcc"])
	}
	if len(parts) != 2 || !strings.Contains(parts[0].body, "Bcc: evil@example.com") ||
		!strings.Contains(parts[1].body, "RCPT TO:<evil@example.com>") {
		t.Errorf("bodies lost the payload: %+v", parts)
	}
}

// invalidMessages returns variations of valid that every Sender must
// refuse.
func invalidMessages(valid Message) []Message {
	var out []Message
	for _, inj := range []string{"\r\nBcc: evil@example.com", "\nBcc: evil@example.com", "\rBcc: evil@example.com",
		"\x00", "\t", "\x7f", "\u0085", "\u2028Bcc: evil@example.com"} {
		m := valid
		m.To += inj
		out = append(out, m)
		m = valid
		m.Subject += inj
		out = append(out, m)
	}
	for _, to := range []string{"", "Evil <alice@example.com>", "<alice@example.com>", "alice@example.com, evil@example.com",
		"alice@example.com,evil@example.com", `"evil@example.com"@example.com`, `"a b"@example.com`,
		"alice@example.com (comment)", "alice", "@example.com", "alice@[127.0.0.1]", " alice@example.com",
		"alice@example.com ", "=?utf-8?q?evil?= <alice@example.com>", strings.Repeat("a", 250) + "@example.com",
		"alice@exa\xffmple.com"} {
		m := valid
		m.To = to
		out = append(out, m)
	}
	for _, subject := range []string{"", "caf\xe9", strings.Repeat("x", 999)} {
		m := valid
		m.Subject = subject
		out = append(out, m)
	}
	m := valid
	m.Text = ""
	return append(out, m)
}

func TestSMTPStopsOnContextAndTimeout(t *testing.T) {
	// A server that accepts connections and never says a word.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	_, pool := testCert(t)
	msg := Message{To: "alice@example.com", Subject: "Code", Text: "12345678"}

	for _, scheme := range []string{"smtp", "smtps"} {
		t.Run(scheme+" cancel", func(t *testing.T) {
			s := newSender(t, scheme, l.Addr().String(), pool, time.Minute)
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(200*time.Millisecond, cancel)
			start := time.Now()
			err := s.Send(ctx, msg)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Send returned after %s, want soon after the cancellation", d)
			}
			if !errors.Is(err, ErrSend) || !errors.Is(err, context.Canceled) {
				t.Errorf("Send: %v, want ErrSend and context.Canceled", err)
			}
		})
		t.Run(scheme+" timeout", func(t *testing.T) {
			s := newSender(t, scheme, l.Addr().String(), pool, 300*time.Millisecond)
			start := time.Now()
			err := s.Send(context.Background(), msg)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Send returned after %s, want soon after the 300ms timeout", d)
			}
			if !errors.Is(err, ErrSend) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Send: %v, want ErrSend and context.DeadlineExceeded", err)
			}
		})
	}

	t.Run("already cancelled", func(t *testing.T) {
		addr, pool, rec := startServer(t, serverOptions{startTLS: true})
		s := newSender(t, "smtp", addr, pool, 0)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Send(ctx, msg); !errors.Is(err, ErrSend) || !errors.Is(err, context.Canceled) {
			t.Errorf("Send: %v, want ErrSend and context.Canceled", err)
		}
		if n := rec.conns.Load(); n != 0 {
			t.Errorf("%d connections, want 0", n)
		}
	})

	// A server that stalls in the middle of DATA: go-mail extends the
	// connection's deadline between commands, the timeout must hold anyway.
	t.Run("stalled DATA", func(t *testing.T) {
		addr, pool, rec := startServer(t, serverOptions{startTLS: true, hangData: make(chan struct{})})
		s := newSender(t, "smtp", addr, pool, 500*time.Millisecond)
		start := time.Now()
		err := s.Send(context.Background(), msg)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Send returned after %s, want soon after the 500ms timeout", d)
		}
		if !errors.Is(err, ErrSend) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Send: %v, want ErrSend and context.DeadlineExceeded", err)
		}
		if events, _ := rec.snapshot(); len(events) == 0 || events[len(events)-1] != "DATA" {
			t.Errorf("server saw %q, want the exchange to stall in DATA", events)
		}
	})
}

func TestSMTPConcurrentSends(t *testing.T) {
	addr, pool, rec := startServer(t, serverOptions{startTLS: true})
	s := newSender(t, "smtp", addr, pool, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			errs <- s.Send(t.Context(), Message{To: fmt.Sprintf("user%d@example.com", i), Subject: "Code", Text: "12345678"})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if _, got := rec.snapshot(); len(got) != 8 {
		t.Errorf("server received %d messages, want 8", len(got))
	}
}

func TestTLSOnlyAuth(t *testing.T) {
	for _, tc := range []struct {
		tls     bool
		offered []string
		mech    string // "" for an error
	}{
		{true, []string{"PLAIN", "LOGIN"}, "PLAIN"},
		{true, []string{"login", "plain"}, "PLAIN"},
		{true, []string{"LOGIN"}, "LOGIN"},
		{true, []string{"CRAM-MD5"}, ""},
		{true, nil, ""},
		{false, []string{"PLAIN", "LOGIN"}, ""},
	} {
		// localhost: go-mail's own PLAIN would send the password in clear.
		a := &tlsOnlyAuth{user: "u", pass: "p", host: "localhost"}
		mech, resp, err := a.Start(&gosmtp.ServerInfo{Name: "localhost", TLS: tc.tls, Auth: tc.offered})
		if tc.mech == "" {
			if err == nil || resp != nil {
				t.Errorf("tls=%v offered %q: %s %q, want an error", tc.tls, tc.offered, mech, resp)
			}
			continue
		}
		if err != nil || mech != tc.mech {
			t.Errorf("tls=%v offered %q: %s (%v), want %s", tc.tls, tc.offered, mech, err, tc.mech)
		}
	}
}
