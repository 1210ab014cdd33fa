package templates

import (
	"strings"
	"testing"
)

func TestEmailsRender(t *testing.T) {
	s := newSet(t)
	tests := []struct {
		name   string
		render func() (Email, error)
		want   []string // in subject, text and HTML alike
	}{
		{"VerificationCode", func() (Email, error) {
			return s.VerificationCode(VerificationCodeEmail{AppName: "Contoso Shop", Code: "12345678", MinutesValid: 10})
		}, []string{"Contoso Shop", "12345678", "10 minutes"}},
		{"AccountExists", func() (Email, error) {
			return s.AccountExists(AccountExistsEmail{AppName: "Contoso Shop", Email: "alice@contoso.com",
				SignInURL: "https://id.example.com/contoso/v2.0/signin", ForgotPasswordURL: "https://id.example.com/contoso/v2.0/reset"})
		}, []string{"Contoso Shop", "alice@contoso.com", "https://id.example.com/contoso/v2.0/signin", "https://id.example.com/contoso/v2.0/reset"}},
		{"PasswordReset", func() (Email, error) {
			return s.PasswordReset(PasswordResetEmail{AppName: "Contoso Shop", Code: "87654321", MinutesValid: 15})
		}, []string{"Contoso Shop", "87654321", "15 minutes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.render()
			if err != nil {
				t.Fatal(err)
			}
			if e.Subject == "" || strings.ContainsAny(e.Subject, "\r\n") {
				t.Errorf("subject %q", e.Subject)
			}
			if !strings.Contains(e.Subject, "Contoso Shop") {
				t.Errorf("subject %q lacks the app name", e.Subject)
			}
			for _, w := range tt.want {
				if !strings.Contains(e.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, e.Text)
				}
				if !strings.Contains(e.HTML, w) {
					t.Errorf("HTML lacks %q:\n%s", w, e.HTML)
				}
			}
			if !strings.Contains(e.HTML, `<html lang="en">`) {
				t.Error("HTML body without the layout")
			}
		})
	}
}

func TestEmailsWithoutAppName(t *testing.T) {
	s := newSet(t)
	e, err := s.VerificationCode(VerificationCodeEmail{Code: "12345678", MinutesValid: 10})
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "Your verification code" {
		t.Errorf("subject %q", e.Subject)
	}
	e, err = s.AccountExists(AccountExistsEmail{SignInURL: "https://id.example.com/signin"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.Text, "Forgot") || strings.Contains(e.HTML, "Forgot") {
		t.Error("reset link shown without a URL")
	}
}

func TestEmailsSanitise(t *testing.T) {
	s := newSet(t)
	const evilApp = "Shop\r\nBcc: victim@example.com\u2028\u202eX\n\nClick https://evil.example/" + xss
	vc, err := s.VerificationCode(VerificationCodeEmail{AppName: evilApp, Code: "1234\r\n5678", MinutesValid: 10})
	if err != nil {
		t.Fatal(err)
	}
	ae, err := s.AccountExists(AccountExistsEmail{AppName: evilApp, Email: "a@b.c\r\nBcc: x@y", SignInURL: "https://id.example.com/signin"})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := s.PasswordReset(PasswordResetEmail{AppName: evilApp, Code: "1", MinutesValid: 1})
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]Email{"VerificationCode": vc, "AccountExists": ae, "PasswordReset": pr} {
		if strings.ContainsAny(e.Subject, "\r\n\u2028\u2029\u202e") {
			t.Errorf("%s: subject %q has a line break or bidi control", name, e.Subject)
		}
		if !strings.Contains(e.Subject, "Shop Bcc: victim@example.com X Click") {
			t.Errorf("%s: subject %q not reduced to one line", name, e.Subject)
		}
		for _, line := range strings.Split(e.Text, "\n") {
			if strings.HasPrefix(line, "Bcc:") || strings.HasPrefix(line, "Click") {
				t.Errorf("%s: injected line %q in the text body", name, line)
			}
		}
		if strings.Contains(strings.ToLower(e.HTML), "<script") {
			t.Errorf("%s: unescaped script in the HTML body", name)
		}
	}
	if !strings.Contains(vc.Text, "1234 5678") {
		t.Errorf("code not on one line:\n%s", vc.Text)
	}
}

func TestEmailsValidate(t *testing.T) {
	s := newSet(t)
	bad := map[string]func() (Email, error){
		"no code": func() (Email, error) { return s.VerificationCode(VerificationCodeEmail{MinutesValid: 10}) },
		"blank code": func() (Email, error) {
			return s.VerificationCode(VerificationCodeEmail{Code: "\r\n", MinutesValid: 10})
		},
		"zero minutes":   func() (Email, error) { return s.VerificationCode(VerificationCodeEmail{Code: "1"}) },
		"reset no code":  func() (Email, error) { return s.PasswordReset(PasswordResetEmail{MinutesValid: 10}) },
		"reset negative": func() (Email, error) { return s.PasswordReset(PasswordResetEmail{Code: "1", MinutesValid: -1}) },
		"no sign-in URL": func() (Email, error) { return s.AccountExists(AccountExistsEmail{}) },
		"relative URL":   func() (Email, error) { return s.AccountExists(AccountExistsEmail{SignInURL: "/signin"}) },
		"javascript URL": func() (Email, error) { return s.AccountExists(AccountExistsEmail{SignInURL: "javascript:alert(1)"}) },
		"bad reset URL": func() (Email, error) {
			return s.AccountExists(AccountExistsEmail{SignInURL: "https://a.example/", ForgotPasswordURL: "ftp://a.example/"})
		},
		"URL without host": func() (Email, error) { return s.AccountExists(AccountExistsEmail{SignInURL: "https:///signin"}) },
	}
	for name, fn := range bad {
		if _, err := fn(); err == nil {
			t.Errorf("%s: nil error", name)
		}
	}
}

func TestVerificationCodeGolden(t *testing.T) {
	e, err := newSet(t).VerificationCode(VerificationCodeEmail{AppName: "Contoso Shop", Code: "12345678", MinutesValid: 10})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "verification_code.subject.golden", e.Subject+"\n")
	golden(t, "verification_code.golden.txt", e.Text)
	golden(t, "verification_code.golden.html", e.HTML)
}

func TestOneLine(t *testing.T) {
	tests := map[string]string{
		"":                        "",
		"plain":                   "plain",
		"  padded  ":              "padded",
		"a\r\nb":                  "a b",
		"a\tb\vc\fd":              "a b c d",
		"a\u2028b\u2029c\u0085d":  "a b c d",
		"a\x00b\x1bc\x7fd":        "a b c d",
		"evil\u202egnp.exe":       "evilgnp.exe",
		"\u2066iso\u2069 \u200ex": "iso x",
		"café  au\u00a0lait":      "café au lait",
		"日本語":                     "日本語",
	}
	for in, want := range tests {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
