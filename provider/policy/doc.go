// Package policy changes a tenant's authorization policy (Graph's
// authorizationPolicy: the self-service sign-up switches of seeds 000-002,
// SSPR, invitations, default user permissions), for the API and the CLI
// alike: one validation, one compare-and-swap write, one audit event.
//
// The change takes effect at once: sign-up reads the policy from the store
// on every decision.
package policy
