package email

import (
	"bytes"
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"sync"
	"time"
)

// DefaultMailboxSize is how many messages a Mailbox keeps when NewMailbox
// is given a size of zero or less.
const DefaultMailboxSize = 50

// Received is a message kept by a Mailbox with the time it was sent.
type Received struct {
	Message
	// Time is when Send was called.
	Time time.Time `json:"time"`
}

// Mailbox is a Sender for development: it keeps the last messages in
// memory, where Handler shows them, and passes each one on to a next
// Sender when there is one. It is safe for concurrent use.
//
// A Mailbox holds verification and reset codes for every address, and its
// Handler shows them to anyone who can reach it: mount it only in --dev.
type Mailbox struct {
	next Sender

	mu   sync.Mutex
	ring []Received // ring[(head-1) mod len] is the newest once full
	head int
	full bool
}

// NewMailbox returns a Mailbox that keeps the last n messages
// (DefaultMailboxSize when n <= 0) and passes them on to next, if next is
// not nil.
func NewMailbox(n int, next Sender) *Mailbox {
	if n <= 0 {
		n = DefaultMailboxSize
	}
	return &Mailbox{next: next, ring: make([]Received, n)}
}

// Send keeps m, evicting the oldest message when the mailbox is full, then
// passes it on to the next Sender, if any, and returns that Sender's
// error: a message the next Sender failed to deliver is still shown. Send
// returns an error wrapping ErrInvalidMessage, and keeps nothing, if m is
// not well formed.
func (b *Mailbox) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	b.mu.Lock()
	b.ring[b.head] = Received{Message: m, Time: time.Now()}
	b.head++
	if b.head == len(b.ring) {
		b.head, b.full = 0, true
	}
	b.mu.Unlock()
	if b.next != nil {
		return b.next.Send(ctx, m)
	}
	return nil
}

// Messages returns the messages kept, newest first.
func (b *Mailbox) Messages() []Received {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.head
	if b.full {
		n = len(b.ring)
	}
	out := make([]Received, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, b.ring[(b.head-i+len(b.ring))%len(b.ring)])
	}
	return out
}

// Handler returns a page listing the messages kept, newest first: for
// each one the recipient, the subject, the time and the text body. HTML
// bodies are not rendered. With ?format=json it returns instead
// {"messages": [{"to", "subject", "text", "html", "time"}, ...]}, newest
// first, which browser tests read codes from. Responses carry a
// Content-Security-Policy of default-src 'none' and are not cached. The
// handler answers GET and HEAD only.
func (b *Mailbox) Handler() http.Handler {
	return http.HandlerFunc(b.serveHTTP)
}

func (b *Mailbox) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var buf bytes.Buffer
	switch r.URL.Query().Get("format") {
	case "json":
		if err := json.NewEncoder(&buf).Encode(struct {
			Messages []Received `json:"messages"`
		}{b.Messages()}); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "application/json")
	case "", "html":
		if err := mailboxPage.Execute(&buf, b.Messages()); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
	default:
		http.Error(w, `format must be "json" or "html"`, http.StatusBadRequest)
		return
	}
	_, _ = w.Write(buf.Bytes())
}

var mailboxPage = template.Must(template.New("mailbox").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Foyer dev mailbox</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }
article { border-top: 1px solid #ccc; padding: 1rem 0; }
h2 { font-size: 1.1rem; margin: 0 0 .25rem; }
p { margin: 0; color: #555; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .75rem; }
</style>
</head>
<body>
<h1>Foyer dev mailbox</h1>
<p>The last messages Foyer sent, newest first. For local development only. <a href="?format=json">JSON</a></p>
{{range .}}<article>
<h2>{{.Subject}}</h2>
<p>To {{.To}}, <time datetime="{{.Time.UTC.Format "2006-01-02T15:04:05.000Z07:00"}}">{{.Time.Format "2006-01-02 15:04:05 MST"}}</time></p>
<pre>{{.Text}}</pre>
</article>
{{else}}<p>No messages yet.</p>
{{end}}</body>
</html>
`))
