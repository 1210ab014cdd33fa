package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewSMTP(t *testing.T) {
	good := []struct {
		raw, cfgFrom, publicURL string
		str, from               string
		implicit                bool
		port                    int
	}{
		{"smtp://user:p%40ss@mail.example.com", "", "https://id.example.com", "smtp://user@mail.example.com:587", `"Foyer" <no-reply@id.example.com>`, false, 587},
		{"smtps://user:pass@mail.example.com", "", "http://localhost:8080", "smtps://user@mail.example.com:465", `"Foyer" <no-reply@localhost>`, true, 465},
		{"smtp://mail.example.com:2525/", "Contoso <id@contoso.com>", "", "smtp://mail.example.com:2525", `"Contoso" <id@contoso.com>`, false, 2525},
		{"SMTPS://[::1]:4650", "id@contoso.com", "", "smtps://[::1]:4650", "<id@contoso.com>", true, 4650},
	}
	for _, tc := range good {
		s, err := NewSMTP(tc.raw, SMTPConfig{From: tc.cfgFrom, PublicURL: tc.publicURL})
		if err != nil {
			t.Errorf("NewSMTP(%q): %v", tc.raw, err)
			continue
		}
		if s.String() != tc.str || s.from.String() != tc.from || s.implicit != tc.implicit || s.port != tc.port {
			t.Errorf("NewSMTP(%q) = %s from %s implicit=%v port=%d; want %s from %s implicit=%v port=%d",
				tc.raw, s, s.from, s.implicit, s.port, tc.str, tc.from, tc.implicit, tc.port)
		}
		if s.timeout != DefaultTimeout || s.tls.MinVersion != tls.VersionTLS12 || s.tls.ServerName != s.host {
			t.Errorf("NewSMTP(%q): timeout %s, TLS min %x, server name %q", tc.raw, s.timeout, s.tls.MinVersion, s.tls.ServerName)
		}
	}
	if s, _ := NewSMTP("smtp://u:p@h", SMTPConfig{PublicURL: "https://x"}); s.pass != "p" || fmt.Sprint(s) != "smtp://u@h:587" {
		t.Errorf("password %q, %%v prints %v", s.pass, s)
	}

	base := SMTPConfig{PublicURL: "https://id.example.com"}
	bad := []struct {
		raw string
		cfg SMTPConfig
	}{
		{"", base},
		{"mail.example.com:587", base},
		{"http://user:hunter22@mail.example.com", base},
		{"smtp+insecure://mail.example.com", base},
		{"smtp://user:hunter22@mail.example.com?insecure_skip_verify=true", base},
		{"smtp://user:hunter22@mail.example.com?starttls=opportunistic", base},
		{"smtp://user:hunter22@mail.example.com?", base},
		{"smtp://user:hunter22@mail.example.com/path", base},
		{"smtp://user:hunter22@mail.example.com#frag", base},
		{"smtp://user:hunter22@:587", base},
		{"smtp:mail.example.com", base},
		{"smtp://user:hunter22@mail.example.com:0", base},
		{"smtp://user:hunter22@mail.example.com:70000", base},
		{"smtp://user:hunter22@mail.example.com:x", base},
		{"smtp://user:hunter22@mail.exa mple.com", base},
		{"smtp://user@mail.example.com", base},
		{"smtp://user:@mail.example.com", base},
		{"smtp://:hunter22@mail.example.com", base},
		{"smtp://user:hunter22@mail.example.com", SMTPConfig{}},
		{"smtp://user:hunter22@mail.example.com", SMTPConfig{PublicURL: "https://[::1]:8080"}},
		{"smtp://user:hunter22@mail.example.com", SMTPConfig{From: "not an address"}},
		{"smtp://user:hunter22@mail.example.com", SMTPConfig{From: "Foyer <a@example.com>\r\nBcc: evil@example.com"}},
		{"smtp://user:hunter22@mail.example.com", SMTPConfig{From: "a@example.com", TLSConfig: &tls.Config{InsecureSkipVerify: true}}},
		{"smtp://user:hunter22@mail.example.com", SMTPConfig{From: "a@example.com", Timeout: -time.Second}},
	}
	for _, tc := range bad {
		s, err := NewSMTP(tc.raw, tc.cfg)
		if err == nil {
			t.Errorf("NewSMTP(%q, %+v) = %v, want an error", tc.raw, tc.cfg, s)
			continue
		}
		if strings.Contains(err.Error(), "hunter22") {
			t.Errorf("NewSMTP(%q): error %q reveals the password", tc.raw, err)
		}
	}
}

// FuzzNewSMTP checks that no URL makes NewSMTP panic or reveal the
// password, in its errors or in String.
func FuzzNewSMTP(f *testing.F) {
	for _, s := range []string{"mail.example.com", "mail.example.com:587", "[::1]:25", "h:99999", "h?insecure_skip_verify=1",
		"h/p", "h#f", "h:x", "%zz", "h@h", "[fe80::1%25en0]:25", ":25", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tail string) {
		if strings.Contains(strings.ToLower(tail), "sekret") {
			t.Skip()
		}
		for _, scheme := range []string{"smtp", "smtps"} {
			s, err := NewSMTP(scheme+"://user:Zq9sekret@"+tail, SMTPConfig{From: "a@example.com"})
			if err != nil {
				if strings.Contains(strings.ToLower(err.Error()), "sekret") {
					t.Fatalf("error %q reveals the password", err)
				}
				continue
			}
			if strings.Contains(s.String(), "sekret") || s.host == "" || s.port < 1 || s.port > 65535 || s.implicit != (scheme == "smtps") {
				t.Fatalf("NewSMTP(%q) = %+v", tail, s)
			}
		}
	})
}

// senders returns every Sender of the package that can run without a
// server, for the rules they share.
func senders(t *testing.T) map[string]Sender {
	return map[string]Sender{
		"Log":     Log{Logger: slog.New(slog.DiscardHandler)},
		"Mailbox": NewMailbox(0, nil),
	}
}

func TestSendersRejectInvalidMessages(t *testing.T) {
	valid := Message{To: "alice@example.com", Subject: "Your code", Text: "12345678", HTML: "<p>12345678</p>"}
	for name, s := range senders(t) {
		t.Run(name, func(t *testing.T) {
			if err := s.Send(t.Context(), valid); err != nil {
				t.Fatalf("valid message: %v", err)
			}
			for _, m := range invalidMessages(valid) {
				if err := s.Send(t.Context(), m); !errors.Is(err, ErrInvalidMessage) {
					t.Errorf("Send(%q): %v, want an error wrapping ErrInvalidMessage", m, err)
				}
			}
			if mb, ok := s.(*Mailbox); ok && len(mb.Messages()) != 1 {
				t.Errorf("mailbox kept %d messages, want only the valid one", len(mb.Messages()))
			}
		})
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	l := Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	if err := l.Send(t.Context(), Message{To: "alice@example.com", Subject: "Your code", Text: "Code: 48151623", HTML: "<p>48151623</p>"}); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if rec["to"] != "alice@example.com" || rec["subject"] != "Your code" || rec["text"] != "Code: 48151623" || rec["level"] != "INFO" {
		t.Errorf("logged %s", buf.Bytes())
	}
}

// recordingSender records what it is given and fails with err.
type recordingSender struct {
	got []Message
	err error
}

func (r *recordingSender) Send(_ context.Context, m Message) error {
	r.got = append(r.got, m)
	return r.err
}

func TestMailboxKeepsLastN(t *testing.T) {
	next := &recordingSender{}
	b := NewMailbox(3, next)
	if len(b.Messages()) != 0 {
		t.Fatal("new mailbox not empty")
	}
	for i := 1; i <= 5; i++ {
		if err := b.Send(t.Context(), Message{To: "alice@example.com", Subject: fmt.Sprint("code ", i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
		if n := len(b.Messages()); n != min(i, 3) {
			t.Fatalf("after %d sends the mailbox holds %d", i, n)
		}
	}
	var subjects []string
	msgs := b.Messages()
	for i, m := range msgs {
		subjects = append(subjects, m.Subject)
		if m.Time.IsZero() || i > 0 && m.Time.After(msgs[i-1].Time) {
			t.Errorf("message %d time %v", i, m.Time)
		}
	}
	if got := strings.Join(subjects, ","); got != "code 5,code 4,code 3" {
		t.Errorf("messages %s, want code 5,code 4,code 3", got)
	}
	if len(next.got) != 5 {
		t.Errorf("next sender got %d messages, want 5", len(next.got))
	}
	msgs[0].Subject = "changed"
	if b.Messages()[0].Subject != "code 5" {
		t.Error("Messages returns the mailbox's own storage")
	}

	if NewMailbox(0, nil).ring == nil || len(NewMailbox(-1, nil).ring) != DefaultMailboxSize {
		t.Error("default size not applied")
	}
}

func TestMailboxForwardsErrors(t *testing.T) {
	failing := &recordingSender{err: fmt.Errorf("%w: down", ErrSend)}
	b := NewMailbox(2, failing)
	err := b.Send(t.Context(), Message{To: "alice@example.com", Subject: "s", Text: "x"})
	if !errors.Is(err, ErrSend) {
		t.Errorf("Send: %v, want the next sender's error", err)
	}
	if len(b.Messages()) != 1 {
		t.Error("a message the next sender failed to deliver is not kept")
	}
}

func TestMailboxConcurrent(t *testing.T) {
	b := NewMailbox(10, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			b.Messages()
		}
	}()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			if err := b.Send(t.Context(), Message{To: "alice@example.com", Subject: fmt.Sprint(i), Text: "x"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	<-done
	if len(b.Messages()) != 10 {
		t.Errorf("mailbox holds %d, want 10", len(b.Messages()))
	}
}

func TestMailboxHandler(t *testing.T) {
	b := NewMailbox(5, nil)
	xss := "<script>alert(1)</script>"
	for _, m := range []Message{
		{To: "alice@example.com", Subject: "first", Text: "Code: 11111111"},
		{To: "bob@example.com", Subject: "Code " + xss, Text: "Code: 22222222\n" + xss + "\n</pre><img src=x onerror=alert(1)>", HTML: xss},
	} {
		if err := b.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	h := b.Handler()
	get := func(target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		return w
	}

	t.Run("HTML", func(t *testing.T) {
		w := get("/dev/mailbox")
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%d %q", w.Code, w.Header().Get("Content-Type"))
		}
		checkSecurityHeaders(t, w)
		body := w.Body.String()
		for _, bad := range []string{"<script", "<img", "</pre><img"} {
			if strings.Contains(body, bad) {
				t.Errorf("page contains %q unescaped:\n%s", bad, body)
			}
		}
		for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "bob@example.com", "Code: 22222222", "Code: 11111111", "first"} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q:\n%s", want, body)
			}
		}
		if strings.Index(body, "22222222") > strings.Index(body, "11111111") {
			t.Error("page not newest first")
		}
	})

	t.Run("JSON", func(t *testing.T) {
		w := get("/dev/mailbox?format=json")
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d %q", w.Code, w.Header().Get("Content-Type"))
		}
		checkSecurityHeaders(t, w)
		var got struct {
			Messages []struct {
				To, Subject, Text, HTML string
				Time                    time.Time
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) != 2 || got.Messages[0].To != "bob@example.com" || got.Messages[0].HTML != xss ||
			!strings.Contains(got.Messages[0].Text, "22222222") || got.Messages[1].Subject != "first" || got.Messages[1].Time.IsZero() {
			t.Errorf("JSON %s", w.Body.Bytes())
		}
		for _, k := range []string{`"to"`, `"subject"`, `"text"`, `"html"`, `"time"`} {
			if !strings.Contains(w.Body.String(), k) {
				t.Errorf("JSON lacks key %s: %s", k, w.Body.Bytes())
			}
		}
		if strings.Contains(w.Body.String(), "<script") {
			t.Errorf("JSON not HTML-escaped: %s", w.Body.Bytes())
		}
	})

	t.Run("empty", func(t *testing.T) {
		w := httptest.NewRecorder()
		NewMailbox(1, nil).Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/?format=json", nil))
		if strings.TrimSpace(w.Body.String()) != `{"messages":[]}` {
			t.Errorf("empty JSON %s", w.Body.Bytes())
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		if w := get("/?format=xml"); w.Code != http.StatusBadRequest {
			t.Errorf("format=xml: %d", w.Code)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d", w.Code)
		}
	})
}

func checkSecurityHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if csp := w.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", w.Header())
	}
}
