package templates

import (
	"bytes"
	"flag"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/net/html"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const xss = `<script>alert("x")</script>`

func newSet(t *testing.T, opts ...Option) *Set {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run go test -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

var sampleSignIn = SignInPage{
	TenantName:        "contoso",
	TenantDisplayName: "Contoso Ltd",
	AppName:           "Contoso Shop",
	Action:            "/contoso/v2.0/signin?authRequestID=3f1c",
	CSRFToken:         "csrf-token-value",
	Email:             "alice@contoso.com",
	Error:             "That email address or password is not right.",
	CreateAccountURL:  "/contoso/v2.0/signup?authRequestID=3f1c",
	ForgotPasswordURL: "/contoso/v2.0/reset?authRequestID=3f1c",
}

// pages renders every page with sample data (or, with evil set, with the
// payload in every user-supplied field) and returns the HTML by name.
func pages(t *testing.T, s *Set, evil bool) map[string]string {
	t.Helper()
	v := func(sample string) string {
		if evil {
			return sample + xss
		}
		return sample
	}
	u := func(sample string) string {
		if evil {
			return `javascript:alert(1)`
		}
		return sample
	}
	render := map[string]func(io.Writer) error{
		"SignIn": func(w io.Writer) error {
			return s.SignIn(w, SignInPage{
				TenantName: v("contoso"), TenantDisplayName: v("Contoso Ltd"), AppName: v("Contoso Shop"),
				Action: u("/signin"), CSRFToken: v("tok"), Email: v("alice@contoso.com"), Error: v("Wrong."),
				CreateAccountURL: u("/signup"), ForgotPasswordURL: u("/reset"),
			})
		},
		"SignInMinimal": func(w io.Writer) error {
			return s.SignIn(w, SignInPage{TenantName: v("contoso"), Action: u("/signin"), CSRFToken: v("tok")})
		},
		"Error": func(w io.Writer) error {
			return s.Error(w, ErrorPage{Title: v("Sign-up is off"), Message: v("This app does not take new accounts."),
				Code: v("signUpDisabled"), RequestID: v("req-123")})
		},
		"LogoutConfirm": func(w io.Writer) error {
			return s.LogoutConfirm(w, LogoutPage{Action: u("/logout"), CSRFToken: v("tok"), AppName: v("Contoso Shop"),
				Hidden: []HiddenField{{Name: v("post_logout_redirect_uri"), Value: v("https://app.example/bye")}, {Name: "state", Value: v("xyz")}}})
		},
		"Consent": func(w io.Writer) error {
			return s.Consent(w, ConsentPage{AppName: v("Contoso Shop"), Action: u("/consent"), CSRFToken: v("tok"),
				Scopes: []ConsentScope{{Name: v("User.Read"), Description: v("Read your profile")}, {Name: v("offline_access")}}})
		},
	}
	out := map[string]string{}
	for name, fn := range render {
		var buf bytes.Buffer
		if err := fn(&buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = buf.String()
	}
	return out
}

func TestPagesRender(t *testing.T) {
	s := newSet(t)
	want := map[string][]string{
		"SignIn":        {"<h1>Sign in</h1>", "Contoso Ltd", "to continue to Contoso Shop", `role="alert"`, ">Sign in</button>", "Forgot your password?", "Create one"},
		"SignInMinimal": {"<title>Sign in to contoso</title>", ">Sign in</button>"},
		"Error":         {"<h1>Sign-up is off</h1>", "signUpDisabled", "req-123"},
		"LogoutConfirm": {"Do you want to sign out of Contoso Shop?", ">Sign out</button>", ">Cancel</button>", `name="state" value="xyz"`},
		"Consent":       {"Contoso Shop would like to:", "Read your profile", "<code>User.Read</code>", "offline_access", ">Accept</button>", ">Cancel</button>"},
	}
	notWant := map[string][]string{
		"SignInMinimal": {"role=\"alert\"", "Forgot your password?", "Create one", "to continue to"},
	}
	for name, got := range pages(t, s, false) {
		t.Run(name, func(t *testing.T) {
			for _, w := range want[name] {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			for _, w := range notWant[name] {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in\n%s", w, got)
				}
			}
		})
	}
}

func TestErrorDefaultTitle(t *testing.T) {
	var buf bytes.Buffer
	if err := newSet(t).Error(&buf, ErrorPage{Message: "m"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "<h1>Something went wrong</h1>") {
		t.Errorf("no default title in\n%s", buf.String())
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	if err := newSet(t).WriteError(w, http.StatusBadRequest, ErrorPage{Message: xss, Code: "unknownClient", RequestID: "req-42"}); err != nil {
		t.Fatal(err)
	}
	h := w.Header()
	if w.Code != http.StatusBadRequest || h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Cache-Control") != "no-store" ||
		h.Get("Content-Security-Policy") != ContentSecurityPolicy || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("%d %v", w.Code, h)
	}
	body := w.Body.String()
	for _, want := range []string{"<code>req-42</code>", "<code>unknownClient</code>", "&lt;script&gt;", `<link rel="stylesheet"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
}

func TestLogoutWithoutAppName(t *testing.T) {
	var buf bytes.Buffer
	if err := newSet(t).LogoutConfirm(&buf, LogoutPage{Action: "/logout"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Do you want to sign out?") {
		t.Errorf("no generic question in\n%s", buf.String())
	}
}

func TestPagesEscape(t *testing.T) {
	for name, got := range pages(t, newSet(t), true) {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(strings.ToLower(got), "<script") {
				t.Errorf("unescaped script tag in\n%s", got)
			}
			if !strings.Contains(got, "&lt;script&gt;") {
				t.Errorf("payload not shown escaped in\n%s", got)
			}
			if strings.Contains(got, "javascript:") {
				t.Errorf("javascript: URL kept in\n%s", got)
			}
			// The payload may not open any element or attribute: the
			// parsed document has only the template's own elements.
			doc := parse(t, got)
			for n := range doc.Descendants() {
				if n.Type == html.ElementNode && n.Data == "script" {
					t.Errorf("script element in the parsed page")
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") || a.Key == "alert(" {
						t.Errorf("injected attribute %q", a.Key)
					}
				}
			}
		})
	}
}

func parse(t *testing.T, s string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

// TestPagesStructure checks what every page promises: the layout's head,
// one h1, no scripts or inline styles (so a strict CSP holds), every
// visible input with a label, every form posting a CSRF token, every
// button with a name.
func TestPagesStructure(t *testing.T) {
	s := newSet(t, WithStaticURL("https://id.example.com/base/static/"))
	for name, got := range pages(t, s, false) {
		t.Run(name, func(t *testing.T) {
			doc := parse(t, got)
			ids := map[string]int{}
			labelFor := map[string]int{}
			var inputs, forms, h1s []*html.Node
			var viewport, stylesheet bool
			for n := range doc.Descendants() {
				if n.Type != html.ElementNode {
					continue
				}
				if id, ok := attr(n, "id"); ok {
					ids[id]++
				}
				if _, ok := attr(n, "style"); ok {
					t.Errorf("<%s> has a style attribute", n.Data)
				}
				switch n.Data {
				case "html":
					if lang, _ := attr(n, "lang"); lang != "en" {
						t.Errorf(`<html lang=%q>, want "en"`, lang)
					}
				case "meta":
					if nm, _ := attr(n, "name"); nm == "viewport" {
						viewport = true
					}
				case "link":
					href, _ := attr(n, "href")
					if rel, _ := attr(n, "rel"); rel == "stylesheet" {
						stylesheet = strings.HasPrefix(href, "https://id.example.com/base/static/foyer.css?v=")
					}
				case "script", "style", "iframe", "img":
					t.Errorf("<%s> element in a page", n.Data)
				case "h1":
					h1s = append(h1s, n)
				case "label":
					f, ok := attr(n, "for")
					if !ok {
						t.Errorf("label %q without for", text(n))
					}
					labelFor[f]++
				case "input":
					inputs = append(inputs, n)
				case "form":
					forms = append(forms, n)
					if m, _ := attr(n, "method"); m != "post" {
						t.Errorf("form method %q, want post", m)
					}
				case "button":
					if tp, _ := attr(n, "type"); tp != "submit" {
						t.Errorf("button %q type %q", text(n), tp)
					}
					if text(n) == "" {
						t.Error("button without text")
					}
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") {
						t.Errorf("<%s %s> event handler", n.Data, a.Key)
					}
				}
			}
			if !viewport {
				t.Error("no viewport meta")
			}
			if !stylesheet {
				t.Error("no stylesheet link under the static URL")
			}
			if len(h1s) != 1 {
				t.Errorf("%d h1 headings, want 1", len(h1s))
			}
			for id, n := range ids {
				if n > 1 {
					t.Errorf("id %q used %d times", id, n)
				}
			}
			for f := range labelFor {
				if ids[f] == 0 {
					t.Errorf("label for %q names no element", f)
				}
			}
			for _, in := range inputs {
				if tp, _ := attr(in, "type"); tp == "hidden" {
					continue
				}
				id, _ := attr(in, "id")
				if id == "" || labelFor[id] != 1 {
					t.Errorf("input %v has no label (id %q)", in.Attr, id)
				}
			}
			for _, f := range forms {
				var csrf bool
				for n := range f.Descendants() {
					if nm, _ := attr(n, "name"); n.Data == "input" && nm == FieldCSRF {
						csrf = true
					}
				}
				if !csrf {
					t.Error("form without a CSRF field")
				}
			}
		})
	}
}

func TestSignInInputs(t *testing.T) {
	doc := parse(t, pages(t, newSet(t), false)["SignIn"])
	want := map[string]map[string]string{
		"email":    {"name": FieldEmail, "type": "email", "autocomplete": "username", "value": "alice@contoso.com"},
		"password": {"name": FieldPassword, "type": "password", "autocomplete": "current-password"},
	}
	found := 0
	for n := range doc.Descendants() {
		if n.Data != "input" {
			continue
		}
		id, _ := attr(n, "id")
		w, ok := want[id]
		if !ok {
			continue
		}
		found++
		for k, v := range w {
			if got, _ := attr(n, k); got != v {
				t.Errorf("#%s %s=%q, want %q", id, k, got, v)
			}
		}
		if _, ok := attr(n, "required"); !ok {
			t.Errorf("#%s not required", id)
		}
		if got, _ := attr(n, "aria-describedby"); got != "signin-error" {
			t.Errorf("#%s aria-describedby=%q, want the error", id, got)
		}
	}
	if found != 2 {
		t.Errorf("found %d of the 2 inputs", found)
	}
}

func TestSignInGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := newSet(t).SignIn(&buf, sampleSignIn); err != nil {
		t.Fatal(err)
	}
	golden(t, "signin.golden.html", buf.String())
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) { w.n++; return 0, io.ErrClosedPipe }

func TestRenderErrorWritesNothing(t *testing.T) {
	// A template error must not leave half a page behind; provoke one
	// by executing a page template with the wrong data type.
	s := newSet(t)
	w := &failingWriter{}
	if err := render(w, s.signIn, struct{}{}); err == nil {
		t.Fatal("render with wrong data: nil error")
	}
	if w.n != 0 {
		t.Errorf("%d writes before the error", w.n)
	}
	if err := s.SignIn(w, sampleSignIn); err == nil {
		t.Error("write error not returned")
	}
}

func TestNewRejectsBrokenTemplates(t *testing.T) {
	copyFS := func(fsys fs.FS) fstest.MapFS {
		m := fstest.MapFS{}
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, p)
			m[p] = &fstest.MapFile{Data: b}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if _, err := build(copyFS(pageFiles), copyFS(emailFiles), copyFS(Static()), options{}); err != nil {
		t.Fatalf("build on copies of the embedded files: %v", err)
	}
	tests := []struct {
		name, dir, file, content string
	}{
		{"page syntax", "pages", "html/signin.html", `{{define "content"}}{{.Email}`},
		{"page unknown field", "pages", "html/error.html", `{{define "title"}}x{{end}}{{define "content"}}{{.NoSuchField}}{{end}}`},
		{"page without content", "pages", "html/consent.html", `{{define "title"}}x{{end}}`},
		{"page escaping context", "pages", "html/logout.html", `{{define "title"}}x{{end}}{{define "content"}}<a href="{{if .AppName}}x{{else}}"{{end}}">{{end}}`},
		{"layout syntax", "pages", "html/layout.html", `{{define "layout"}}{{template "content" .}`},
		{"email subject", "emails", "email/password_reset.subject.txt", `{{.Code`},
		{"email text field", "emails", "email/verification_code.txt", `{{.Nope}}`},
		{"email html", "emails", "email/account_exists.html", `{{define "title"}}{{end}}{{define "body"}}{{.SignInURL}{{end}}`},
		{"missing stylesheet", "static", StylesheetName, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages, emails, static := copyFS(pageFiles), copyFS(emailFiles), copyFS(Static())
			m := map[string]fstest.MapFS{"pages": pages, "emails": emails, "static": static}[tt.dir]
			if tt.content == "" {
				delete(m, tt.file)
			} else {
				m[tt.file] = &fstest.MapFile{Data: []byte(tt.content)}
			}
			_, err := build(pages, emails, static, options{})
			if err == nil {
				t.Fatalf("build with a broken %s: nil error", tt.file)
			}
			t.Log(err)
		})
	}
}

func TestStatic(t *testing.T) {
	if err := fstest.TestFS(Static(), StylesheetName); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := newSet(t).Error(&buf, ErrorPage{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `href="/static/foyer.css?v=`) {
		t.Errorf("default stylesheet URL not in\n%s", buf.String())
	}
}

func TestFormPage(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	err = s.Form(&b, FormPage{
		Title: "Enter the code", Action: "/x?a=<b>", CSRFToken: "tok",
		Error:  "<script>alert(1)</script>",
		Fields: []FormField{{Name: "code", Label: "Verification code", InputMode: "numeric", Required: true}, {Name: "pw", Label: "Password", Type: "password"}},
		Submit: "Verify", Secondary: &FormAction{Action: "/resend", Submit: "Send a new code", Hidden: []HiddenField{{Name: "flow", Value: "f1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`<label for="f-code">Verification code</label>`, `id="f-code" name="code"`, `inputmode="numeric"`,
		`<label for="f-pw">Password</label>`, `type="password"`, `&lt;script&gt;`, `value="f1"`, `Send a new code`} {
		if !strings.Contains(out, want) {
			t.Errorf("form page lacks %q", want)
		}
	}
	if strings.Contains(out, "<script>") {
		t.Error("unescaped script")
	}
}
