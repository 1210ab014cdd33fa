package graph

// What the official Microsoft Graph SDKs send and expect (DESIGN.md
// section 8): gzip bodies, OData media-type parameters, @odata.type
// annotations, request-id and client-request-id, 405 with Allow. The SDKs
// themselves drive the API in cmd/foyer/graph_sdk_test.go.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/provider/tenancy"
	"github.com/foyer-id/foyer/storage"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReadBodyContentEncoding(t *testing.T) {
	json64 := append(append([]byte(`{"city":"`), bytes.Repeat([]byte("a"), maxBody-len(`{"city":""}`))...), `"}`...)
	if len(json64) != maxBody {
		t.Fatal(len(json64))
	}
	// A prefix of a stored (uncompressed) gzip stream of random-looking
	// data: cut short.
	truncated := gzipped(t, []byte(`{"city":"Paris"}`))
	truncated = truncated[:len(truncated)-6]
	for _, tc := range []struct {
		name, encoding string
		body           []byte
		length         int64 // 0: len(body); -1: unknown (chunked)
		want           int
		decoded        string
	}{
		{"gzip", "gzip", gzipped(t, []byte(`{"city":"Paris"}`)), 0, 0, `{"city":"Paris"}`},
		{"GZIP", "GZIP", gzipped(t, []byte(`{}`)), 0, 0, `{}`},
		{"x-gzip", "x-gzip", gzipped(t, []byte(`{}`)), 0, 0, `{}`},
		{"gzip, chunked", "gzip", gzipped(t, []byte(`{}`)), -1, 0, `{}`},
		{"identity", "identity", []byte(`{}`), 0, 0, `{}`},
		{"empty header", "", []byte(`{}`), 0, 0, `{}`},
		{"decoded 64 KiB", "gzip", gzipped(t, json64), 0, 0, string(json64)},
		{"decoded 64 KiB + 1", "gzip", gzipped(t, append(json64, ' ')), 0, http.StatusRequestEntityTooLarge, ""},
		{"decoded 64 KiB + 1, chunked", "gzip", gzipped(t, append(json64, ' ')), -1, http.StatusRequestEntityTooLarge, ""},
		{"compressed over the limit by Content-Length", "gzip", make([]byte, maxCompressed+1), 0, http.StatusRequestEntityTooLarge, ""},
		{"not gzip", "gzip", []byte(`{"city":"Paris"}`), 0, http.StatusBadRequest, ""},
		{"truncated gzip", "gzip", truncated, 0, http.StatusBadRequest, ""},
		{"empty gzip body", "gzip", nil, 0, http.StatusBadRequest, ""},
		{"deflate", "deflate", []byte(`{}`), 0, http.StatusUnsupportedMediaType, ""},
		{"br", "br", []byte(`{}`), 0, http.StatusUnsupportedMediaType, ""},
		{"compress", "compress", []byte(`{}`), 0, http.StatusUnsupportedMediaType, ""},
		{"gzip twice", "gzip, gzip", gzipped(t, gzipped(t, []byte(`{}`))), 0, http.StatusUnsupportedMediaType, ""},
		{"gzip then br", "gzip,br", []byte(`{}`), 0, http.StatusUnsupportedMediaType, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPatch, "/v1.0/me", bytes.NewReader(tc.body))
			r.ContentLength = int64(len(tc.body))
			if tc.length != 0 {
				r.ContentLength = tc.length
			}
			r.Header.Set("Content-Type", "application/json")
			if tc.encoding != "" {
				r.Header.Set("Content-Encoding", tc.encoding)
			}
			w := httptest.NewRecorder()
			got, err := readBody(w, r)
			if tc.want == 0 {
				if err != nil || string(got) != tc.decoded {
					t.Fatalf("%v, %d bytes", err, len(got))
				}
				return
			}
			if st := status(err); st != tc.want {
				t.Fatalf("status %d (%v), want %d", st, err, tc.want)
			}
			// RFC 9110 section 15.5.16: say which coding would do.
			if ae := w.Header().Get("Accept-Encoding"); (tc.want == http.StatusUnsupportedMediaType) != (ae == "gzip") {
				t.Fatalf("Accept-Encoding %q on %d", ae, tc.want)
			}
		})
	}
}

// TestReadBodyGzipBomb: a small body that inflates to 16 MiB gets 413
// after reading no more of it than it takes to pass the limit.
func TestReadBodyGzipBomb(t *testing.T) {
	bomb := gzipped(t, make([]byte, 16<<20))
	if len(bomb) > maxCompressed {
		t.Fatalf("the bomb is %d bytes: it must pass the compressed limit to test inflation", len(bomb))
	}
	for _, length := range []int64{int64(len(bomb)), -1} {
		cr := &countingReader{r: bytes.NewReader(bomb)}
		r := httptest.NewRequest(http.MethodPatch, "/v1.0/me", cr)
		r.ContentLength = length
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Content-Encoding", "gzip")
		_, err := readBody(httptest.NewRecorder(), r)
		if status(err) != http.StatusRequestEntityTooLarge {
			t.Fatalf("bomb: %v", err)
		}
		// Inflating 64 KiB of zeros takes about 64 bytes of input;
		// flate reads ahead in 4 KiB blocks; the bomb is 16 KiB.
		if cr.n > 8<<10 || cr.n*2 > len(bomb) {
			t.Fatalf("read %d of the bomb's %d bytes before refusing it", cr.n, len(bomb))
		}
	}
}

func TestJSONMediaTypeODataParameters(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                                                      true,
		"application/json; odata.metadata=minimal":                              true,
		"application/json;odata.metadata=minimal;odata.streaming=true":          true,
		"application/json; odata.metadata=none; charset=utf-8":                  true,
		"application/json; odata.metadata=full; IEEE754Compatible=false":        true,
		"application/json; IEEE754Compatible=true; ExponentialDecimals=true":    true,
		"application/json; metadata=minimal; streaming=false":                   true,
		"Application/JSON; ODATA.METADATA=MINIMAL":                              true,
		`application/json; odata.metadata="minimal"`:                            true,
		"application/json; odata.metadata=verbose":                              false,
		"application/json; odata.streaming=yes":                                 false,
		"application/json; odata=verbose":                                       false,
		"application/json; odata.metadata=minimal; charset=iso-8859-1":          false,
		"application/json; odata.metadata=minimal; x-unknown=1":                 false,
		"application/json; odata.metadata=minimal; IEEE754Compatible=sometimes": false,
	} {
		if got := jsonMediaType(ct); got != want {
			t.Errorf("jsonMediaType(%q) = %v, want %v", ct, got, want)
		}
	}
}

// TestDecodeODataType: the SDKs write the body's type as @odata.type; the
// user's type (or null) is accepted and never taken for a property; any
// other type, or other annotations than those a GET returns, are refused.
func TestDecodeODataType(t *testing.T) {
	for _, body := range []string{
		`{"@odata.type":"#microsoft.graph.user","city":"Paris"}`,
		`{"city":"Paris","@odata.type":"#microsoft.graph.user"}`,
		`{"@odata.type":null,"city":"Paris"}`,
		`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users/$entity","@odata.type":"#microsoft.graph.user","city":"Paris"}`,
		`{"@odata.id":null,"@odata.etag":"W/\"1\"","city":"Paris"}`,
	} {
		p, err := decodeUserPatch([]byte(body), selfPatch)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if len(p.text) != 1 || p.text["city"] != "Paris" || p.accountEnabled != nil {
			t.Fatalf("%s: %+v", body, p)
		}
	}
	for _, tc := range []struct {
		body  string
		parts []string
	}{
		{`{"@odata.type":"#microsoft.graph.group","city":"Paris"}`, []string{"'@odata.type'", "'#microsoft.graph.group'", "'#microsoft.graph.user'"}},
		{`{"@odata.type":"microsoft.graph.user"}`, []string{"'@odata.type'"}},
		{`{"@odata.type":"#microsoft.graph.User"}`, []string{"'@odata.type'"}},
		{`{"@odata.type":true}`, []string{"'@odata.type'", "string or null"}},
		{`{"@odata.type":{"a":1}}`, []string{"'@odata.type'", "string or null"}},
		{`{"@odata.type":"#microsoft.graph.user","@odata.type":"#microsoft.graph.user"}`, []string{"'@odata.type'", "more than once"}},
		{`{"@odata.context":1}`, []string{"'@odata.context'"}},
		{`{"@odata.nextLink":"x"}`, []string{"'@odata.nextLink'", "not supported"}},
		{`{"@foo.bar":"x"}`, []string{"'@foo.bar'", "not supported"}},
		{`{"city@odata.type":"#String"}`, []string{"'city@odata.type'"}},
	} {
		_, err := decodeUserPatch([]byte(tc.body), selfPatch)
		wantBadRequest(t, err, tc.parts...)
	}
	// Nested objects have their own type; an action's parameters have none.
	f, err := decodeBody([]byte(`{"@odata.type":"#microsoft.graph.user","displayName":"N","accountEnabled":true,"mail":"n@x.example",`+
		`"passwordProfile":{"@odata.type":"#microsoft.graph.passwordProfile","password":"pw"}}`), createUserBody)
	if err != nil || f["passwordProfile"].obj["password"].str != "pw" {
		t.Fatalf("%v %+v", err, f)
	}
	_, err = decodeBody([]byte(`{"passwordProfile":{"@odata.type":"#microsoft.graph.user","password":"pw"}}`), createUserBody)
	wantBadRequest(t, err, "'passwordProfile.@odata.type'", "'#microsoft.graph.passwordProfile'")
	_, err = decodeBody([]byte(`{"@odata.type":"#microsoft.graph.changePassword","currentPassword":"a","newPassword":"b"}`), changePasswordBody)
	wantBadRequest(t, err, "'@odata.type'", "no @odata.type")
	if _, err = decodeBody([]byte(`{"@odata.type":null,"currentPassword":"a","newPassword":"b"}`), changePasswordBody); err != nil {
		t.Fatal(err)
	}
}

// TestUserPhonesAndOffice: Graph's default /me set has businessPhones (an
// array, never null), mobilePhone and officeLocation; none can be set.
func TestUserPhonesAndOffice(t *testing.T) {
	b, err := json.Marshal(userObject(storage.User{ID: "u"}))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	if phones, ok := got["businessPhones"].([]any); !ok || len(phones) != 0 {
		t.Fatalf("businessPhones %#v in %s", got["businessPhones"], b)
	}
	for _, name := range []string{"mobilePhone", "officeLocation"} {
		if v, ok := got[name]; !ok || v != nil {
			t.Fatalf("%s %#v in %s", name, v, b)
		}
	}
	for _, s := range []*schema{selfPatch, adminPatch} {
		for _, body := range []string{`{"businessPhones":["+1 555 0100"]}`, `{"businessPhones":[]}`,
			`{"mobilePhone":"+1 555 0101"}`, `{"mobilePhone":null}`, `{"officeLocation":"B1"}`} {
			_, err := decodeUserPatch([]byte(body), s)
			name := body[2 : strings.Index(body[2:], `"`)+2]
			wantBadRequest(t, err, "'"+name+"'", "cannot be updated")
		}
	}
}

// sdkAPI is an API with one user, alice, whose token fakeToken makes.
func sdkAPI(t *testing.T) (*API, string) {
	t.Helper()
	tid := storage.NewID()
	alice := storage.User{ID: storage.NewID(), DisplayName: "Alice", UserType: "Member", AccountEnabled: true}
	api := New(Config{
		URLs:    tenancy.URLs{Base: "https://foyer.example"},
		Tenants: fakeTenants{tid: {ID: tid, Kind: storage.External}},
		Tokens:  fakeVerifier{users: map[string]storage.User{alice.ID: alice}},
		Clock:   func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	})
	return api, "Bearer " + fakeToken(tid, alice.ID, "User.Read User.ReadWrite")
}

// TestRequestIDs: every answer, success or error, has request-id (the
// router's X-Request-Id) and client-request-id (the client's, echoed, or
// the request-id when it sent none or one not fit to echo); the error
// envelope's innerError has both.
func TestRequestIDs(t *testing.T) {
	api, auth := sdkAPI(t)
	const reqID = "5f0f4f0e-8a1e-4c1b-9a57-0d6c3f0b6a11"
	for _, tc := range []struct {
		name, path, client, want string
		status                   int
	}{
		{"success, echoed", "/v1.0/me", "0b5c0bde-1d3c-4a53-9f2e-3c2c1c0a9e01", "0b5c0bde-1d3c-4a53-9f2e-3c2c1c0a9e01", 200},
		{"success, none sent", "/v1.0/me", "", reqID, 200},
		{"error, echoed", "/v1.0/nope", "abc", "abc", 404},
		{"error, none sent", "/v1.0/nope", "", reqID, 404},
		{"error, too long to echo", "/v1.0/nope", strings.Repeat("a", 129), reqID, 404},
		{"error, a space", "/v1.0/nope", "a b", reqID, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.path, nil)
			r.Header.Set("Authorization", auth)
			if tc.client != "" {
				r.Header.Set("client-request-id", tc.client)
			}
			w := httptest.NewRecorder()
			w.Header().Set("X-Request-Id", reqID)
			api.ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("request-id") != reqID || w.Header().Get("client-request-id") != tc.want {
				t.Fatalf("%d, request-id %q, client-request-id %q", w.Code, w.Header().Get("request-id"), w.Header().Get("client-request-id"))
			}
			if tc.status == 200 {
				return
			}
			var env struct {
				Error struct{ InnerError map[string]string }
			}
			json.Unmarshal(w.Body.Bytes(), &env)
			if in := env.Error.InnerError; in["request-id"] != reqID || in["client-request-id"] != tc.want {
				t.Fatalf("innerError %v", in)
			}
		})
	}
	// Without the router, the API makes its own.
	r := httptest.NewRequest(http.MethodGet, "/v1.0/me", nil)
	r.Header.Set("Authorization", auth)
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	if id := w.Header().Get("request-id"); !storage.IsID(id) || w.Header().Get("client-request-id") != id {
		t.Fatalf("request-id %q, client-request-id %q", id, w.Header().Get("client-request-id"))
	}
}

// TestMethodNotAllowed: a path the API serves, with another method, gets
// 405 with Allow (from the route table); an unknown path 404.
func TestMethodNotAllowed(t *testing.T) {
	api, auth := sdkAPI(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodPut, "/v1.0/me", 405, "GET, HEAD, PATCH"},
		{http.MethodDelete, "/v1.0/me", 405, "GET, HEAD, PATCH"},
		{http.MethodPost, "/v1.0/me", 405, "GET, HEAD, PATCH"},
		{http.MethodOptions, "/v1.0/me", 405, "GET, HEAD, PATCH"},
		{http.MethodGet, "/v1.0/me/changePassword", 405, "POST"},
		{http.MethodPatch, "/v1.0/me/oauth2PermissionGrants/x", 405, "GET, HEAD, DELETE"},
		{http.MethodPost, "/v1.0/oauth2PermissionGrants/x", 405, "GET, HEAD, DELETE"},
		{http.MethodDelete, "/v1.0/users", 405, "GET, HEAD, POST"},
		{http.MethodPut, "/v1.0/policies/authorizationPolicy", 405, "GET, HEAD, PATCH"},
		{http.MethodGet, "/v1.0/nope", 404, ""},
		{http.MethodPut, "/v1.0/nope", 404, ""},
		{http.MethodGet, "/v1.0/oauth2PermissionGrants", 404, ""},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		var env struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
			t.Fatalf("%s %s: not Graph's envelope: %s", tc.method, tc.path, w.Body)
		}
		if w.Code != tc.status || w.Header().Get("Allow") != tc.allow {
			t.Fatalf("%s %s: %d, Allow %q; want %d, %q", tc.method, tc.path, w.Code, w.Header().Get("Allow"), tc.status, tc.allow)
		}
	}
	// Authentication comes first.
	r := httptest.NewRequest(http.MethodPut, "/v1.0/me", nil)
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || w.Header().Get("Allow") != "" {
		t.Fatalf("no token: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
}
