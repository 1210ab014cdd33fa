// Package signup is self-service sign-up and self-service password reset
// by email verification code, governed by the tenant's authorization
// policy (DESIGN.md sections 2 and 6; seeds 000-002).
//
// # Paths
//
// An app's sign-up flow ("app" path) creates a customer in the app's
// external tenant (creationType SelfServiceSignUp) when the tenant allows
// self-service sign-up (allowedToSignUpEmailBasedSubscriptions, S) and the
// app has signUpEnabled. The domain-join path ("join", on the common issuer
// for multiTenant apps) finds the home tenant where the address's domain is
// verified: S and allowEmailVerifiedUsersToJoinOrganization (J) decide; a
// domain no tenant has verified gets a new unmanaged workforce tenant with
// the domain verified in it. Joined members have creationType EmailVerified.
//
// # What the page reveals
//
// The decision table lives in one function (Service.refuse over the facts
// of a situation). Decisions that do not depend on whether the address has
// an account (S, signUpEnabled, the domain) are made when the flow starts;
// the whole table is applied again right after the code proves the address
// and once more when the account is created, so a policy turned off
// mid-flow holds. Whether the address has an account is never shown before
// the address is proven: an existing address gets a "you already have an
// account" mail instead of a code, and the page is the same. Refusals that
// depend on the account's absence (J=false) come right after the code is
// verified, before the page asks for a name and a password, and end the
// flow.
//
// The "you already have an account" mail links to SignInURL: the sign-in
// form of the same authorization request even when it asked for sign-up
// (prompt=create), so the owner signs in to the existing identity and the
// app's request completes (DESIGN.md section 2, "sign in, no new
// identity"). The sign-up page's "I already have an account" link is the
// same URL.
//
// # Steps
//
// The page loads a flow once (Service.Flow, which checks the browser
// binding) and hands it to the step (Resend, Verify, Complete,
// CompleteReset); each step changes it by one compare-and-swap that checks
// the step again, so nothing is read twice.
//
// # Codes
//
// 8 digits from crypto/rand, stored only as an HMAC bound to the tenant,
// flow and address, valid 10 minutes, single use. Every submission
// increments the per-code and per-flow counters (compare-and-swap) before
// the code is compared in constant time: at most 5 wrong submissions per
// code and 10 per flow, and a resend never resets the flow's count. A code
// can be resent after a cooldown (60 s); at most 5 codes per address per
// hour and a per-IP hourly limit answer 429 with Retry-After. The step
// after a correct code is advanced by one compare-and-swap, so parallel
// submissions of one valid code create exactly one account.
//
// Every attempt, code sent, code failure, account creation and refusal is
// recorded in the tenant's audit log with its reason code.
//
// # A completion repeated
//
// The account's ID is chosen once per flow, when the flow is advanced to
// create it, and kept in the flow. When creating the account fails with
// the store unavailable (503) although the account was created, the flow
// is reopened and the person's next submission finds an account at the
// address under the flow's own ID: it is this flow's, and the sign-up
// succeeds instead of answering "accountExists". An account at the address
// under any other ID still gets "accountExists". A completed flow stays
// (done) until it expires, so that a completion whose answer was lost
// after the account was made (a 503 from the session step, a dropped
// connection) can be submitted again by the same browser (the flow is
// bound to it) within two minutes: it signs in to that account.
package signup
