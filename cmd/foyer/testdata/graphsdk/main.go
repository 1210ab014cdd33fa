// Command graphsdk drives Foyer's Graph-style API with the official
// Microsoft Graph SDK for Go (msgraph-sdk-go), unmodified and in its
// default configuration: the SDK's own HTTP pipeline, which compresses
// every request body with gzip, sends SdkVersion and client-request-id,
// and parses Graph's error envelope. Only the base URL and the token are
// Foyer's. cmd/foyer's TestGraphSDK builds and runs it; see there.
//
// It reads:
//
//	FOYER_GRAPHSDK_URL           the API's base, https://<foyer>/v1.0
//	FOYER_GRAPHSDK_TOKEN         an access token with User.ReadWrite and
//	                             Directory.AccessAsUser.All
//	FOYER_GRAPHSDK_PROFILE       a JSON object: a value for each of the ten
//	                             properties a user may update
//	FOYER_GRAPHSDK_PASSWORD      the user's password, and
//	FOYER_GRAPHSDK_NEW_PASSWORD  the one to change it to
//	FOYER_GRAPHSDK_REVOKE_CLIENT the client ID whose consent to revoke
//	SSL_CERT_FILE                the test server's certificate (Go's TLS)
//
// and writes one JSON object on stdout: what it observed. Any unexpected
// answer ends it with status 1 and the reason on stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/authentication"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// staticToken hands the SDK the token the test minted through Foyer's
// code flow, for the test server's host only.
type staticToken struct {
	token string
	hosts *authentication.AllowedHostsValidator
}

func (s staticToken) GetAuthorizationToken(_ context.Context, u *url.URL, _ map[string]any) (string, error) {
	if !s.hosts.IsUrlHostValid(u) {
		return "", fmt.Errorf("no token for %s", u.Host)
	}
	return s.token, nil
}

func (s staticToken) GetAllowedHostsValidator() *authentication.AllowedHostsValidator { return s.hosts }

// property is one of the ten properties of seed 003, as the SDK sets and
// reads it.
type property struct {
	name string
	set  func(models.Userable, *string)
	get  func(models.Userable) *string
}

var properties = []property{
	{"city", models.Userable.SetCity, models.Userable.GetCity},
	{"country", models.Userable.SetCountry, models.Userable.GetCountry},
	{"displayName", models.Userable.SetDisplayName, models.Userable.GetDisplayName},
	{"givenName", models.Userable.SetGivenName, models.Userable.GetGivenName},
	{"jobTitle", models.Userable.SetJobTitle, models.Userable.GetJobTitle},
	{"postalCode", models.Userable.SetPostalCode, models.Userable.GetPostalCode},
	{"state", models.Userable.SetState, models.Userable.GetState},
	{"streetAddress", models.Userable.SetStreetAddress, models.Userable.GetStreetAddress},
	{"surname", models.Userable.SetSurname, models.Userable.GetSurname},
	{"preferredLanguage", models.Userable.SetPreferredLanguage, models.Userable.GetPreferredLanguage},
}

// report is what the program observed, for the test to check against the
// store.
type report struct {
	ID             string            `json:"id"`
	BusinessPhones []string          `json:"businessPhones"`
	Patched        map[string]string `json:"patched"`
	Selected       map[string]any    `json:"selected"`
	Refused        refusal           `json:"refused"`
	Grants         int               `json:"grants"`
	RevokedGrant   string            `json:"revokedGrant"`
	RevokedScope   string            `json:"revokedScope"`
	AfterDelete    int               `json:"afterDelete"`
}

type refusal struct {
	Status          int    `json:"status"`
	Code            string `json:"code"`
	Message         string `json:"message"`
	RequestID       string `json:"requestId"`
	ClientRequestID string `json:"clientRequestId"`
	HeaderRequestID string `json:"headerRequestId"`
	HeaderClientID  string `json:"headerClientRequestId"`
}

func main() {
	r, err := run(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "graphsdk:", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Fprintln(os.Stderr, "graphsdk: "+name+" is not set")
		os.Exit(2)
	}
	return v
}

func run(ctx context.Context) (*report, error) {
	base, err := url.Parse(env("FOYER_GRAPHSDK_URL"))
	if err != nil {
		return nil, err
	}
	var profile map[string]string
	if err := json.Unmarshal([]byte(env("FOYER_GRAPHSDK_PROFILE")), &profile); err != nil {
		return nil, fmt.Errorf("FOYER_GRAPHSDK_PROFILE: %w", err)
	}
	hosts := authentication.NewAllowedHostsValidator([]string{base.Hostname()})
	auth := authentication.NewBaseBearerTokenAuthenticationProvider(staticToken{env("FOYER_GRAPHSDK_TOKEN"), &hosts})
	adapter, err := msgraph.NewGraphRequestAdapter(auth)
	if err != nil {
		return nil, err
	}
	adapter.SetBaseUrl(base.String())
	client := msgraph.NewGraphServiceClient(adapter)
	rep := &report{Patched: map[string]string{}, Selected: map[string]any{}}

	// GET /me: Graph's default set, businessPhones an array.
	me, err := client.Me().Get(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("GET /me: %w", describe(err))
	}
	rep.ID = deref(me.GetId())
	rep.BusinessPhones = me.GetBusinessPhones()
	if rep.BusinessPhones == nil || me.GetMobilePhone() != nil || me.GetOfficeLocation() != nil || me.GetMail() == nil {
		return nil, fmt.Errorf("GET /me: businessPhones %v, mobilePhone %v, officeLocation %v, mail %v",
			me.GetBusinessPhones(), me.GetMobilePhone(), me.GetOfficeLocation(), me.GetMail())
	}

	// PATCH /me, one property at a time, each read back.
	for _, p := range properties {
		v, ok := profile[p.name]
		if !ok {
			return nil, fmt.Errorf("FOYER_GRAPHSDK_PROFILE has no %s", p.name)
		}
		u := models.NewUser()
		p.set(u, &v)
		if _, err := client.Me().Patch(ctx, u, nil); err != nil {
			return nil, fmt.Errorf("PATCH /me %s: %w", p.name, describe(err))
		}
		got, err := client.Me().Get(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("GET /me after %s: %w", p.name, describe(err))
		}
		if g := deref(p.get(got)); g != v {
			return nil, fmt.Errorf("%s reads back %q, want %q", p.name, g, v)
		}
		rep.Patched[p.name] = deref(p.get(got))
	}

	// $select: what was asked for, nothing else.
	sel, err := client.Me().Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"displayName", "city"}},
	})
	if err != nil {
		return nil, fmt.Errorf("GET /me?$select: %w", describe(err))
	}
	rep.Selected["displayName"] = sel.GetDisplayName()
	rep.Selected["city"] = sel.GetCity()
	rep.Selected["surname"] = sel.GetSurname()
	rep.Selected["id"] = sel.GetId()
	rep.Selected["businessPhones"] = sel.GetBusinessPhones()

	// userType is not the user's to change: 400 naming it, parsed by the
	// SDK into Graph's error.
	bad := models.NewUser()
	member := "Member"
	bad.SetUserType(&member)
	_, err = client.Me().Patch(ctx, bad, nil)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		return nil, fmt.Errorf("PATCH /me userType: %v, want Graph's error", err)
	}
	rep.Refused = refusal{Status: oe.ResponseStatusCode, Code: deref(oe.GetErrorEscaped().GetCode()),
		Message: deref(oe.GetErrorEscaped().GetMessage())}
	if in := oe.GetErrorEscaped().GetInnerError(); in != nil {
		rep.Refused.RequestID = deref(in.GetRequestId())
		rep.Refused.ClientRequestID = deref(in.GetClientRequestId())
	}
	if h := oe.ResponseHeaders; h != nil {
		rep.Refused.HeaderRequestID = first(h, "request-id")
		rep.Refused.HeaderClientID = first(h, "client-request-id")
	}

	// changePassword.
	body := users.NewItemChangePasswordPostRequestBody()
	cur, next := env("FOYER_GRAPHSDK_PASSWORD"), env("FOYER_GRAPHSDK_NEW_PASSWORD")
	body.SetCurrentPassword(&cur)
	body.SetNewPassword(&next)
	if err := client.Me().ChangePassword().Post(ctx, body, nil); err != nil {
		return nil, fmt.Errorf("POST /me/changePassword: %w", describe(err))
	}

	// Consent grants: list, read one, delete it with the SDK's typed
	// request (DELETE /oauth2PermissionGrants/{id}), gone after.
	revoke := env("FOYER_GRAPHSDK_REVOKE_CLIENT")
	list, err := client.Me().Oauth2PermissionGrants().Get(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("GET /me/oauth2PermissionGrants: %w", describe(err))
	}
	rep.Grants = len(list.GetValue())
	i := slices.IndexFunc(list.GetValue(), func(g models.OAuth2PermissionGrantable) bool { return deref(g.GetClientId()) == revoke })
	if i < 0 {
		return nil, fmt.Errorf("no consent for %s among %d", revoke, rep.Grants)
	}
	id := deref(list.GetValue()[i].GetId())
	one, err := client.Me().Oauth2PermissionGrants().ByOAuth2PermissionGrantId(id).Get(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("GET /me/oauth2PermissionGrants/{id}: %w", describe(err))
	}
	if deref(one.GetId()) != id || deref(one.GetClientId()) != revoke || deref(one.GetPrincipalId()) != rep.ID {
		return nil, fmt.Errorf("grant %s reads as %s for %s of %s", id, deref(one.GetId()), deref(one.GetClientId()), deref(one.GetPrincipalId()))
	}
	rep.RevokedScope = deref(one.GetScope())
	if err := client.Oauth2PermissionGrants().ByOAuth2PermissionGrantId(id).Delete(ctx, nil); err != nil {
		return nil, fmt.Errorf("DELETE /oauth2PermissionGrants/{id}: %w", describe(err))
	}
	rep.RevokedGrant = id
	_, err = client.Me().Oauth2PermissionGrants().ByOAuth2PermissionGrantId(id).Get(ctx, nil)
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 404 {
		return nil, fmt.Errorf("GET of the deleted grant: %v, want 404", describe(err))
	}
	after, err := client.Me().Oauth2PermissionGrants().Get(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("GET /me/oauth2PermissionGrants after the delete: %w", describe(err))
	}
	rep.AfterDelete = len(after.GetValue())
	return rep, nil
}

// describe spells out Graph's error the SDK parsed.
func describe(err error) error {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) && oe.GetErrorEscaped() != nil {
		return fmt.Errorf("%d %s: %s", oe.ResponseStatusCode, deref(oe.GetErrorEscaped().GetCode()), deref(oe.GetErrorEscaped().GetMessage()))
	}
	return err
}

func first(h *abs.ResponseHeaders, name string) string {
	if vs := h.Get(name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
