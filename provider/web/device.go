package web

import (
	"net/http"

	"github.com/foyer-id/foyer/provider/account"
	"github.com/foyer-id/foyer/storage"
	"github.com/foyer-id/foyer/templates"
)

// deviceCookie names the cookie that keeps the device token of the address
// in account.Service.DeviceSlot's slot: __Host-, Secure, HttpOnly,
// SameSite=Strict (only the sign-in forms, posted from Foyer's own pages,
// read it).
func (p *Pages) deviceCookie(slot string) string {
	if p.cfg.Insecure {
		return "foyer-device-" + slot
	}
	return "__Host-foyer-device-" + slot
}

// authenticate signs in with the form's address and password in the home
// tenant, presenting the browser's device token for the address (a browser
// that signed in to it before is not locked out by failures from
// elsewhere) and keeping the new token the success returns.
func (p *Pages) authenticate(w http.ResponseWriter, r *http.Request, home, email string) (storage.User, error) {
	a := account.Attempt{TenantID: home, Email: email, Password: r.PostFormValue(templates.FieldPassword), IP: clientIP(r)}
	slot := p.cfg.Accounts.DeviceSlot(home, email)
	if slot != "" {
		if c, err := r.Cookie(p.deviceCookie(slot)); err == nil {
			a.Device = c.Value
		}
	}
	res, err := p.cfg.Accounts.Authenticate(r.Context(), a)
	if err != nil {
		return storage.User{}, err
	}
	if slot != "" && res.Device != "" {
		http.SetCookie(w, &http.Cookie{
			Name: p.deviceCookie(slot), Value: res.Device, Path: "/",
			Expires: res.DeviceExpires, MaxAge: int(res.DeviceExpires.Sub(p.cfg.Clock()).Seconds()),
			Secure: !p.cfg.Insecure, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		})
	}
	return res.User, nil
}
