// Package email delivers Foyer's emails (DESIGN.md sections 6 and 7): a
// Message is one rendered email (the subject, text and HTML triple of
// templates.Email) for one recipient, and a Sender delivers it. As with
// ory/kratos's courier channels, the rest of Foyer sees only that channel
// and never a transport; consumers declare their own one-method Sender
// interface where they use it.
//
// Three Senders are provided:
//
//   - SMTP (--smtp-url) hands messages to a submission server with
//     go-mail. smtp:// URLs require STARTTLS, smtps:// use implicit TLS;
//     certificates are always verified, a server without STARTTLS is
//     never used in clear and credentials are only sent over TLS. Nothing
//     in the URL can weaken that. Every Send opens its own connection and
//     is bounded by its context and by SMTPConfig.Timeout (10 s by
//     default); a failure returns an error wrapping ErrSend, so the caller
//     can ask the user to try again.
//   - Log writes messages, codes included, to a log/slog logger. It is
//     what Foyer uses without --smtp-url and is for local use only.
//   - Mailbox keeps the last messages in memory for the --dev mailbox page
//     (Handler, also as JSON for browser tests), optionally passing them on
//     to another Sender.
//
// # Headers
//
// Only the recipient and the subject come from outside this package; the
// sender's address is configuration. Every Sender refuses, with an error
// wrapping ErrInvalidMessage and before anything is sent or kept, a
// recipient that is not one bare address (no display name, angle
// brackets, comments, quoted local part or list) and a subject that holds
// CR, LF or any other control character, so no input can add a header or a
// recipient. Bodies are not headers: they may contain anything, and the
// SMTP sender sends them quoted-printable in a multipart/alternative
// message (text/plain, then text/html).
//
// The package imports nothing of Foyer's.
package email
