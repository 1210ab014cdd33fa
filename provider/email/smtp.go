package email

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// DefaultTimeout bounds one SMTP delivery (connection, TLS, AUTH and
// transfer) when SMTPConfig.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// SMTPConfig is the configuration of NewSMTP besides the URL.
type SMTPConfig struct {
	// From is the sender, an RFC 5322 address with an optional display
	// name, e.g. "Foyer <no-reply@id.example.com>". When empty it is
	// "Foyer <no-reply@HOST>" with HOST the host name of PublicURL.
	From string
	// PublicURL is Foyer's public URL (--public-url); used only to derive
	// the default From.
	PublicURL string
	// TLSConfig, when set, is the base of the TLS configuration (e.g. to
	// add RootCAs); it is cloned. ServerName defaults to the URL's host,
	// MinVersion is raised to TLS 1.2, and InsecureSkipVerify is refused.
	TLSConfig *tls.Config
	// Timeout bounds one Send; DefaultTimeout when zero.
	Timeout time.Duration
}

// SMTP is a Sender that delivers through an SMTP submission server over
// TLS: STARTTLS (required, never opportunistic) for smtp:// URLs and
// implicit TLS for smtps:// URLs. It is safe for concurrent use; every
// Send opens its own connection.
type SMTP struct {
	host     string
	port     int
	implicit bool // smtps://
	user     string
	pass     string
	from     *mail.Address
	idDomain string // right-hand side of Message-IDs
	helo     string
	tls      *tls.Config
	timeout  time.Duration
}

// NewSMTP returns an SMTP sender for rawURL, which is either
// smtp://[user:password@]host[:port] (port 587 by default; STARTTLS is
// mandatory) or smtps://[user:password@]host[:port] (port 465 by default;
// implicit TLS). User and password are percent-decoded; with them, Send
// authenticates with AUTH PLAIN (or LOGIN when the server offers only
// that), and only over TLS. The URL takes no path, query or fragment:
// options such as insecure_skip_verify or starttls=opportunistic are
// refused rather than ignored. Errors never contain the password.
func NewSMTP(rawURL string, cfg SMTPConfig) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("email: invalid SMTP URL: %v", err)
	}
	s := &SMTP{timeout: cfg.Timeout}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicit = 465, true
	default:
		return nil, fmt.Errorf("email: SMTP URL scheme %q not supported: use smtp:// (STARTTLS) or smtps:// (implicit TLS)", u.Scheme)
	}
	switch {
	case u.Opaque != "" || u.Hostname() == "":
		return nil, errors.New("email: SMTP URL has no host")
	case u.Path != "" && u.Path != "/":
		return nil, errors.New("email: SMTP URL takes no path")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("email: SMTP URL takes no query parameters: TLS is always required and verified")
	case u.Fragment != "":
		return nil, errors.New("email: SMTP URL takes no fragment")
	}
	s.host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("email: SMTP URL port %q out of range", p)
		}
		s.port = n
	}
	if u.User != nil {
		s.user = u.User.Username()
		pass, ok := u.User.Password()
		if s.user == "" || !ok || pass == "" {
			return nil, errors.New("email: SMTP URL needs both a user and a password, or neither")
		}
		s.pass = pass
	}

	if s.from, err = fromAddress(cfg.From, cfg.PublicURL); err != nil {
		return nil, err
	}
	s.idDomain = s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:]

	if cfg.TLSConfig != nil {
		if cfg.TLSConfig.InsecureSkipVerify {
			return nil, errors.New("email: TLSConfig.InsecureSkipVerify is not supported")
		}
		s.tls = cfg.TLSConfig.Clone()
	} else {
		s.tls = &tls.Config{}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	if s.tls.MinVersion < tls.VersionTLS12 {
		s.tls.MinVersion = tls.VersionTLS12
	}

	switch {
	case s.timeout == 0:
		s.timeout = DefaultTimeout
	case s.timeout < 0:
		return nil, fmt.Errorf("email: negative SMTP timeout %s", s.timeout)
	}
	if s.helo, err = os.Hostname(); err != nil || s.helo == "" || !oneLine(s.helo) {
		s.helo = "localhost"
	}
	return s, nil
}

// fromAddress parses the configured From, or builds the default one from
// the public URL.
func fromAddress(from, publicURL string) (*mail.Address, error) {
	if from == "" {
		u, err := url.Parse(publicURL)
		if err != nil || u.Hostname() == "" {
			return nil, errors.New("email: SMTPConfig needs From, or a PublicURL with a host to derive it from")
		}
		from = (&mail.Address{Name: "Foyer", Address: "no-reply@" + u.Hostname()}).String()
	}
	a, err := mail.ParseAddress(from)
	if err != nil || !oneLine(from) {
		return nil, fmt.Errorf("email: From %q is not a valid address; set SMTPConfig.From", from)
	}
	return a, nil
}

// String returns the server as a URL without the password, for logs.
func (s *SMTP) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(s.host, strconv.Itoa(s.port))}
	if s.implicit {
		u.Scheme = "smtps"
	}
	if s.user != "" {
		u.User = url.User(s.user)
	}
	return u.String()
}

// Send delivers m as a multipart/alternative message (text and HTML) from
// the configured From address. It returns an error wrapping
// ErrInvalidMessage, without connecting, if m is not well formed, and an
// error wrapping ErrSend if delivery fails: no TLS (a server that does not
// offer STARTTLS is never used in clear), an untrusted certificate,
// refused credentials, a refused recipient, or the end of ctx or of the
// configured timeout, whichever comes first; in the last case the error
// also wraps the context's cause (context.Canceled or
// context.DeadlineExceeded).
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	msg, err := s.message(m)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeoutCause(ctx, s.timeout,
		fmt.Errorf("smtp timeout of %s: %w", s.timeout, context.DeadlineExceeded))
	defer cancel()
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrSend, context.Cause(ctx))
	}

	// go-mail bounds the dial by ctx but not the conversation (a server
	// that accepts and never greets would hang it), and leaves the
	// connection open when EHLO, STARTTLS or AUTH fail. So we dial
	// ourselves, close the connection as soon as ctx ends, and close it
	// again when done.
	var cc connCloser
	stop := context.AfterFunc(ctx, cc.close)
	defer stop()
	defer cc.close()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{}
		raw, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		if !cc.set(raw) {
			return nil, net.ErrClosed
		}
		if !s.implicit {
			return raw, nil
		}
		tc := tls.Client(raw, s.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			return nil, err
		}
		return tc, nil
	}

	opts := []gomail.Option{
		gomail.WithPort(s.port),
		// ctx is the one bound; go-mail's own per-command deadlines are
		// only a backstop, longer so that a timeout is always reported as
		// the context's.
		gomail.WithTimeout(2 * s.timeout),
		gomail.WithHELO(s.helo),
		gomail.WithTLSConfig(s.tls),
		gomail.WithDialContextFunc(dial),
		gomail.WithTLSPolicy(gomail.TLSMandatory),
	}
	if s.implicit {
		opts = append(opts, gomail.WithSSL())
	}
	if s.user != "" {
		opts = append(opts, gomail.WithSMTPAuthCustom(&tlsOnlyAuth{user: s.user, pass: s.pass, host: s.host}))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSend, err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		if msg.IsDelivered() {
			return nil // the server took it; only QUIT or closing failed
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrSend, context.Cause(ctx))
		}
		return fmt.Errorf("%w: %w", ErrSend, err)
	}
	return nil
}

// connCloser closes the connection of one Send when its context ends or
// when Send returns, whichever comes first.
type connCloser struct {
	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// set records conn, or closes it and returns false if close was called.
func (c *connCloser) set(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = conn.Close()
		return false
	}
	c.conn = conn
	return true
}

func (c *connCloser) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn != nil {
		_ = c.conn.Close()
	}
}

// message builds the go-mail message of m.
func (s *SMTP) message(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: recipient: %w", ErrInvalidMessage, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	msg.SetMessageIDWithValue(hex.EncodeToString(id[:]) + "@" + s.idDomain)
	// RFC 3834: ask vacation responders not to answer.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// tlsOnlyAuth authenticates with AUTH PLAIN, or LOGIN when the server
// offers only that, and refuses to send the password on a connection
// that is not TLS, whatever the server's name (go-mail's own PLAIN and
// LOGIN make an exception for localhost).
type tlsOnlyAuth struct {
	user, pass, host string
	next             gosmtp.Auth
}

func (a *tlsOnlyAuth) Start(si *gosmtp.ServerInfo) (string, []byte, error) {
	if !si.TLS {
		return "", nil, errors.New("refusing to authenticate on a connection without TLS")
	}
	offers := func(mech string) bool {
		for _, m := range si.Auth {
			if strings.EqualFold(m, mech) {
				return true
			}
		}
		return false
	}
	switch {
	case offers("PLAIN"):
		a.next = gosmtp.PlainAuth("", a.user, a.pass, a.host, false)
	case offers("LOGIN"):
		a.next = gosmtp.LoginAuth(a.user, a.pass, a.host, false)
	default:
		return "", nil, fmt.Errorf("server offers neither AUTH PLAIN nor AUTH LOGIN (offers %q)", si.Auth)
	}
	return a.next.Start(si)
}

func (a *tlsOnlyAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.next.Next(fromServer, more)
}
