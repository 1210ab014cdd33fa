// Package audit records what happened in a tenant — sign-up attempts, codes
// sent and failed, accounts created, refusals with their reason codes,
// policy changes — to the tenant's audit log (a capped Redis Stream, see
// storage.Audit), for admins to read through the API and the CLI.
//
// Recording never fails the operation it describes: a store error is logged
// and dropped, because refusing a sign-in because the audit log is down
// would turn an observability outage into an availability one.
package audit
