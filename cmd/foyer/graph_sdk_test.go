package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/storage"
)

// graphSDKDir is a Go module of its own (so that Foyer's module does not
// depend on the SDK): a program that drives the API with the official
// Microsoft Graph SDK for Go, msgraph-sdk-go.
const graphSDKDir = "testdata/graphsdk"

// graphSDKBinary returns the SDK program: $FOYER_GRAPHSDK_BIN when set
// (.ci/run builds it before the tests, as compiling the SDK cold takes
// minutes), else, with FOYER_GRAPHSDK_TEST=build or CI=true, built here.
// Otherwise the test is skipped; on CI it can only fail.
func graphSDKBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("FOYER_GRAPHSDK_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("FOYER_GRAPHSDK_BIN: %v", err)
		}
		return bin
	}
	if os.Getenv("FOYER_GRAPHSDK_TEST") != "build" && os.Getenv("CI") != "true" {
		t.Skip("set FOYER_GRAPHSDK_BIN to the program built from cmd/foyer/" + graphSDKDir +
			", or FOYER_GRAPHSDK_TEST=build to build it here (compiling the SDK cold takes minutes)")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the Graph SDK test needs the go tool: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "graphsdk")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Dir = graphSDKDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", graphSDKDir, err, out)
	}
	return bin
}

// sdkRequest is one request the SDK sent, as the server saw it.
type sdkRequest struct {
	method, path                      string
	encoding, sdkVersion, clientReqID string
	status                            int
	requestID, echoedClientReqID      string
}

// sdkRecorder serves the app and records each request and the headers of
// its answer.
type sdkRecorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []sdkRequest
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *sdkRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	s.next.ServeHTTP(sw, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, sdkRequest{
		method: r.Method, path: r.URL.Path, encoding: r.Header.Get("Content-Encoding"),
		sdkVersion: r.Header.Get("SdkVersion"), clientReqID: r.Header.Get("client-request-id"),
		status: sw.status, requestID: w.Header().Get("request-id"), echoedClientReqID: w.Header().Get("client-request-id"),
	})
}

// graphSDKReport is what the SDK program observed (testdata/graphsdk).
type graphSDKReport struct {
	ID             string            `json:"id"`
	BusinessPhones []string          `json:"businessPhones"`
	Patched        map[string]string `json:"patched"`
	Selected       map[string]any    `json:"selected"`
	Refused        struct {
		Status                     int
		Code, Message              string
		RequestID, ClientRequestID string
		HeaderRequestID            string
		HeaderClientID             string `json:"headerClientRequestId"`
	} `json:"refused"`
	Grants       int    `json:"grants"`
	RevokedGrant string `json:"revokedGrant"`
	RevokedScope string `json:"revokedScope"`
	AfterDelete  int    `json:"afterDelete"`
}

// TestGraphSDK: the official Microsoft Graph SDK for Go (msgraph-sdk-go
// v1.89.0), unmodified and with its default pipeline, which gzips every
// request body, works against Foyer with a token from Foyer's code flow:
// GET /me, PATCH /me of each of the ten properties a customer may update
// (each read back), $select, a refused userType, changePassword, and
// listing, reading and deleting a consent grant with the SDK's typed
// requests. The server sees every write gzipped and answers none with 415
// (on which the SDK would retry uncompressed).
func TestGraphSDK(t *testing.T) {
	bin := graphSDKBinary(t)
	w := startGraphWorld(t)
	x := w.x
	cust := x.user(t, "cust")
	s := w.as(x, "cust")
	// The SPA's consent is the one the SDK revokes; the web app's token
	// is the one it calls with.
	spa := s.token(t, "spa", "openid", "offline_access", "User.Read")
	web := s.token(t, "web", "openid", "offline_access", "User.Read", "User.ReadWrite", "Directory.AccessAsUser.All")

	// The same app behind a second TLS listener that records what the SDK
	// sends; httptest servers share one certificate, which the program
	// trusts through SSL_CERT_FILE.
	rec := &sdkRecorder{next: w.env.app.handler}
	srv := httptest.NewTLSServer(rec)
	defer srv.Close()
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	profile := map[string]string{
		"city": "Lyon", "country": "France", "displayName": "Camille Dupont (SDK)", "givenName": "Camille",
		"jobTitle": "Ingénieure", "postalCode": "69001", "state": "Auvergne-Rhône-Alpes",
		"streetAddress": "1 Place Bellecour", "surname": "Dupont", "preferredLanguage": "fr-FR",
	}
	profileJSON, _ := json.Marshal(profile)
	newPassword := "a new correct horse " + w.sfx
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(),
		"FOYER_GRAPHSDK_URL="+srv.URL+"/v1.0",
		"FOYER_GRAPHSDK_TOKEN="+web.AccessToken,
		"FOYER_GRAPHSDK_PROFILE="+string(profileJSON),
		"FOYER_GRAPHSDK_PASSWORD="+w.pw,
		"FOYER_GRAPHSDK_NEW_PASSWORD="+newPassword,
		"FOYER_GRAPHSDK_REVOKE_CLIENT="+x.spa,
		"SSL_CERT_FILE="+certFile,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the SDK program: %v\n%s%s", err, stderr.String(), stdout.String())
	}
	var rep graphSDKReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}

	t.Run("read", func(t *testing.T) {
		if rep.ID != cust.ID || rep.BusinessPhones == nil || len(rep.BusinessPhones) != 0 {
			t.Fatalf("GET /me through the SDK: id %q, businessPhones %v", rep.ID, rep.BusinessPhones)
		}
	})
	t.Run("each property written", func(t *testing.T) {
		u, err := w.env.app.store.GetUser(context.Background(), x.id, cust.ID)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]string{"city": u.City, "country": u.Country, "displayName": u.DisplayName,
			"givenName": u.GivenName, "jobTitle": u.JobTitle, "postalCode": u.PostalCode, "state": u.State,
			"streetAddress": u.StreetAddress, "surname": u.Surname, "preferredLanguage": u.PreferredLanguage}
		for name, want := range profile {
			if stored[name] != want || rep.Patched[name] != want {
				t.Errorf("%s: stored %q, read back through the SDK %q, want %q", name, stored[name], rep.Patched[name], want)
			}
		}
		if u.UserType != cust.UserType {
			t.Errorf("userType %q, was %q: the refused PATCH wrote", u.UserType, cust.UserType)
		}
	})
	t.Run("$select", func(t *testing.T) {
		sel := rep.Selected
		if sel["displayName"] != profile["displayName"] || sel["city"] != profile["city"] ||
			sel["surname"] != nil || sel["id"] != nil || sel["businessPhones"] != nil {
			t.Fatalf("$select=displayName,city through the SDK: %v", sel)
		}
	})
	t.Run("userType refused", func(t *testing.T) {
		r := rep.Refused
		if r.Status != http.StatusBadRequest || r.Code != "Request_BadRequest" || !strings.Contains(r.Message, "'userType'") {
			t.Fatalf("PATCH userType through the SDK: %+v", r)
		}
		if !storage.IsID(r.RequestID) || r.RequestID != r.HeaderRequestID || r.ClientRequestID == "" || r.ClientRequestID != r.HeaderClientID {
			t.Fatalf("innerError and headers: %+v", r)
		}
		// The client-request-id is the one the SDK sent.
		for _, q := range rec.reqs {
			if q.status == http.StatusBadRequest && q.method == http.MethodPatch {
				if q.clientReqID == "" || q.clientReqID != r.ClientRequestID {
					t.Fatalf("the SDK sent client-request-id %q, innerError has %q", q.clientReqID, r.ClientRequestID)
				}
				return
			}
		}
		t.Fatal("no refused PATCH recorded")
	})
	t.Run("changePassword", func(t *testing.T) {
		again := w.as(x, "cust")
		if p := again.signInWith(t, w.pw); p.status != http.StatusOK {
			t.Fatalf("the old password still signs in: %d %s", p.status, p.url)
		}
		again = w.as(x, "cust")
		again.pw = newPassword
		again.token(t, "web", "openid")
	})
	t.Run("consent revoked", func(t *testing.T) {
		if rep.RevokedGrant == "" || rep.RevokedScope != "openid offline_access User.Read" || rep.AfterDelete != rep.Grants-1 {
			t.Fatalf("grants: %+v", rep)
		}
		cs, err := w.env.app.store.ListConsents(context.Background(), x.id, cust.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.ClientID == x.spa || c.ID == rep.RevokedGrant {
				t.Fatalf("the SPA's consent survived: %+v", c)
			}
		}
		if _, err := spa.c.refresh(spa.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("the SPA's refresh token after the SDK revoked its consent: %v", err)
		}
	})
	t.Run("on the wire", func(t *testing.T) {
		count := map[string]int{}
		for _, q := range rec.reqs {
			if !strings.HasPrefix(q.path, "/v1.0/") {
				continue
			}
			count[q.method]++
			if (q.method == http.MethodPatch || q.method == http.MethodPost) && q.encoding != "gzip" {
				t.Errorf("%s %s sent with Content-Encoding %q: the SDK compresses every body", q.method, q.path, q.encoding)
			}
			if q.status == http.StatusUnsupportedMediaType {
				t.Errorf("%s %s answered 415", q.method, q.path)
			}
			if q.sdkVersion == "" || q.clientReqID == "" {
				t.Errorf("%s %s: SdkVersion %q, client-request-id %q: not the SDK's pipeline", q.method, q.path, q.sdkVersion, q.clientReqID)
			}
			if !storage.IsID(q.requestID) || q.echoedClientReqID != q.clientReqID {
				t.Errorf("%s %s (%d): request-id %q, client-request-id %q (sent %q)", q.method, q.path, q.status, q.requestID, q.echoedClientReqID, q.clientReqID)
			}
		}
		// 10 properties and userType; changePassword; the grant.
		if count[http.MethodPatch] != 11 || count[http.MethodPost] != 1 || count[http.MethodDelete] != 1 {
			t.Fatalf("requests by method: %v", count)
		}
	})
}
