package provision

import (
	"fmt"
	"log/slog"
)

// Counts counts the objects of one kind an apply went through.
type Counts struct {
	Created, Updated, Unchanged int
}

// String reads "1 created, 0 updated, 2 unchanged".
func (c Counts) String() string {
	return fmt.Sprintf("%d created, %d updated, %d unchanged", c.Created, c.Updated, c.Unchanged)
}

// Report is what an apply did. A user whose password was set counts as
// updated; domains are never updated.
type Report struct {
	Tenants, Domains, Apps, Users Counts
	// TenantIDs maps each tenant name of the document to its ID.
	TenantIDs map[string]string
}

// Changes is the number of objects created or updated.
func (r Report) Changes() int {
	n := 0
	for _, c := range []Counts{r.Tenants, r.Domains, r.Apps, r.Users} {
		n += c.Created + c.Updated
	}
	return n
}

// String reads "tenants: 1 created, 0 updated, 0 unchanged; domains: …".
func (r Report) String() string {
	return fmt.Sprintf("tenants: %v; domains: %v; apps: %v; users: %v", r.Tenants, r.Domains, r.Apps, r.Users)
}

// LogValue logs the counts as groups (tenants.created=1 …) and the total
// number of changes.
func (r Report) LogValue() slog.Value {
	group := func(name string, c Counts) slog.Attr {
		return slog.Group(name, "created", c.Created, "updated", c.Updated, "unchanged", c.Unchanged)
	}
	return slog.GroupValue(
		slog.Int("changes", r.Changes()),
		group("tenants", r.Tenants), group("domains", r.Domains),
		group("apps", r.Apps), group("users", r.Users),
	)
}
