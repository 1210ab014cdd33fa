package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/foyer-id/foyer/storage"
)

// memStore is a Store over a map of JSON values, shaped like a key-value
// backend so that tests can dump every stored byte and count writes.
type memStore struct {
	mu     sync.Mutex
	kv     map[string]string
	writes int
	// beforeCreateTenant, when set, runs (once) before CreateTenant, to
	// simulate another instance winning a race.
	beforeCreateTenant func(m *memStore)
}

func newMemStore() *memStore { return &memStore{kv: map[string]string{}} }

var _ Store = (*memStore)(nil)

func (m *memStore) put(k string, v any) {
	m.writes++
	switch v := v.(type) {
	case string:
		m.kv[k] = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		m.kv[k] = string(b)
	}
}

func (m *memStore) get(k string, v any) error {
	s, ok := m.kv[k]
	if !ok {
		return storage.ErrNotFound
	}
	return json.Unmarshal([]byte(s), v)
}

// dump returns every key and value, sorted.
func (m *memStore) dump() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m.kv {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, m.kv[k])
	}
	return b.String()
}

func (m *memStore) writeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

func (m *memStore) CreateTenant(_ context.Context, t storage.Tenant) error {
	if f := m.beforeCreateTenant; f != nil {
		m.beforeCreateTenant = nil
		f(m)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kv["tenant:"+t.ID]; ok {
		return storage.ErrExists
	}
	if _, ok := m.kv["tenantname:"+t.Name]; ok {
		return storage.ErrExists
	}
	m.put("tenant:"+t.ID, t)
	m.put("tenantname:"+t.Name, t.ID)
	return nil
}

func (m *memStore) GetTenant(_ context.Context, id string) (storage.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var t storage.Tenant
	return t, m.get("tenant:"+id, &t)
}

func (m *memStore) TenantIDByName(_ context.Context, name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.kv["tenantname:"+name]
	if !ok {
		return "", storage.ErrNotFound
	}
	return id, nil
}

func (m *memStore) UpdateTenant(_ context.Context, id string, fn func(*storage.Tenant) error) (storage.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var t storage.Tenant
	if err := m.get("tenant:"+id, &t); err != nil {
		return t, err
	}
	name := t.Name
	if err := fn(&t); err != nil {
		return t, err
	}
	if t.ID != id || t.Name != name {
		return t, fmt.Errorf("memstore: fn changed ID or Name")
	}
	m.put("tenant:"+id, t)
	return t, nil
}

func (m *memStore) ListTenants(context.Context) ([]storage.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []storage.Tenant
	for k := range m.kv {
		if strings.HasPrefix(k, "tenant:") {
			var t storage.Tenant
			if err := m.get(k, &t); err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func (m *memStore) AddDomain(_ context.Context, tenantID, domain string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if owner, ok := m.kv["domain:"+domain]; ok {
		if owner != tenantID {
			return storage.ErrExists
		}
		return nil
	}
	m.put("domain:"+domain, tenantID)
	m.put("domains:"+tenantID+":"+domain, "")
	return nil
}

func (m *memStore) TenantIDByDomain(_ context.Context, domain string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.kv["domain:"+domain]
	if !ok {
		return "", storage.ErrNotFound
	}
	return id, nil
}

func (m *memStore) Domains(_ context.Context, tenantID string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	prefix := "domains:" + tenantID + ":"
	for k := range m.kv {
		if d, ok := strings.CutPrefix(k, prefix); ok {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (m *memStore) CreateApp(_ context.Context, tenantID string, a storage.App) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kv["app:"+a.ClientID]; ok {
		return storage.ErrExists
	}
	a.TenantID = tenantID
	m.put("app:"+a.ClientID, a)
	return nil
}

func (m *memStore) GetApp(_ context.Context, tenantID, clientID string) (storage.App, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var a storage.App
	if err := m.get("app:"+clientID, &a); err != nil {
		return a, err
	}
	if a.TenantID != tenantID {
		return storage.App{}, storage.ErrNotFound
	}
	return a, nil
}

func (m *memStore) AppTenant(_ context.Context, clientID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var a storage.App
	if err := m.get("app:"+clientID, &a); err != nil {
		return "", err
	}
	return a.TenantID, nil
}

func (m *memStore) UpdateApp(_ context.Context, tenantID, clientID string, fn func(*storage.App) error) (storage.App, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var a storage.App
	if err := m.get("app:"+clientID, &a); err != nil || a.TenantID != tenantID {
		return a, storage.ErrNotFound
	}
	if err := fn(&a); err != nil {
		return a, err
	}
	if a.ClientID != clientID || a.TenantID != tenantID {
		return a, fmt.Errorf("memstore: fn changed ClientID or TenantID")
	}
	m.put("app:"+clientID, a)
	return a, nil
}

func (m *memStore) ListApps(_ context.Context, tenantID string) ([]storage.App, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []storage.App
	for k := range m.kv {
		if strings.HasPrefix(k, "app:") {
			var a storage.App
			if err := m.get(k, &a); err != nil {
				return nil, err
			}
			if a.TenantID == tenantID {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b storage.App) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out, nil
}

func userKey(tenantID, id string) string   { return "user:" + tenantID + ":" + id }
func mailKey(tenantID, mail string) string { return "usermail:" + tenantID + ":" + mail }
func upnKey(tenantID, upn string) string {
	return "userupn:" + tenantID + ":" + strings.ToLower(upn)
}

func (m *memStore) CreateUser(_ context.Context, tenantID string, u storage.User, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kv[userKey(tenantID, u.ID)]; ok {
		return storage.ErrExists
	}
	if _, ok := m.kv[upnKey(tenantID, u.UserPrincipalName)]; ok {
		return storage.ErrExists
	}
	if u.Mail != "" {
		if _, ok := m.kv[mailKey(tenantID, u.Mail)]; ok {
			return storage.ErrExists
		}
		m.put(mailKey(tenantID, u.Mail), u.ID)
	}
	m.put(userKey(tenantID, u.ID), u)
	m.put(upnKey(tenantID, u.UserPrincipalName), u.ID)
	if hash != "" {
		m.put("pw:"+tenantID+":"+u.ID, hash)
	}
	return nil
}

func (m *memStore) GetUser(_ context.Context, tenantID, id string) (storage.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var u storage.User
	return u, m.get(userKey(tenantID, id), &u)
}

func (m *memStore) UserIDByMail(_ context.Context, tenantID, mail string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.kv[mailKey(tenantID, mail)]
	if !ok {
		return "", storage.ErrNotFound
	}
	return id, nil
}

func (m *memStore) UserIDByUPN(_ context.Context, tenantID, upn string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.kv[upnKey(tenantID, upn)]
	if !ok {
		return "", storage.ErrNotFound
	}
	return id, nil
}

func (m *memStore) UpdateUser(_ context.Context, tenantID, id string, fn func(*storage.User) error) (storage.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var u storage.User
	if err := m.get(userKey(tenantID, id), &u); err != nil {
		return u, err
	}
	old := u
	if err := fn(&u); err != nil {
		return u, err
	}
	if u.ID != id {
		return u, fmt.Errorf("memstore: fn changed ID")
	}
	if u.Mail != old.Mail && u.Mail != "" {
		if other, ok := m.kv[mailKey(tenantID, u.Mail)]; ok && other != id {
			return u, storage.ErrExists
		}
	}
	if !strings.EqualFold(u.UserPrincipalName, old.UserPrincipalName) {
		if other, ok := m.kv[upnKey(tenantID, u.UserPrincipalName)]; ok && other != id {
			return u, storage.ErrExists
		}
	}
	if u.Mail != old.Mail {
		if old.Mail != "" {
			delete(m.kv, mailKey(tenantID, old.Mail))
		}
		if u.Mail != "" {
			m.put(mailKey(tenantID, u.Mail), id)
		}
	}
	if !strings.EqualFold(u.UserPrincipalName, old.UserPrincipalName) {
		delete(m.kv, upnKey(tenantID, old.UserPrincipalName))
		m.put(upnKey(tenantID, u.UserPrincipalName), id)
	}
	m.put(userKey(tenantID, id), u)
	return u, nil
}

func (m *memStore) ListUsers(_ context.Context, tenantID string) ([]storage.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []storage.User
	prefix := "user:" + tenantID + ":"
	for k := range m.kv {
		if strings.HasPrefix(k, prefix) {
			var u storage.User
			if err := m.get(k, &u); err != nil {
				return nil, err
			}
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b storage.User) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *memStore) PasswordHash(_ context.Context, tenantID, id string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.kv["pw:"+tenantID+":"+id]
	if !ok {
		return "", storage.ErrNotFound
	}
	return h, nil
}

func (m *memStore) SetPasswordHash(_ context.Context, tenantID, id, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kv[userKey(tenantID, id)]; !ok {
		return storage.ErrNotFound
	}
	m.put("pw:"+tenantID+":"+id, hash)
	return nil
}
