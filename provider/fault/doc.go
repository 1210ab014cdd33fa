// Package fault is Foyer's one error model: a few kinds of failure, each
// mapped to an HTTP status in one place (Status), with a stable reason code
// for users, admins and logs.
//
// Domain packages return *Error values (built fresh with New or Wrap, never a
// shared mutable sentinel) or storage sentinels; HTTP layers call Status and
// render the error in their own shape (an HTML page, an OAuth error, or
// Graph's JSON envelope) without deciding the status themselves.
package fault
