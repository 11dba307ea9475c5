// Package ui is hookd's web UI, served at /ui/: sign-in with an API key,
// projects and project keys (admin), and per project Integrations ›
// Webhooks — endpoints with a Test button, the signing secret and its
// rotation, and the Event Log with each delivery's attempts and Resend.
//
// Pages are rendered on the server with html/template from templates
// embedded in the binary, with one embedded style sheet and one small
// script. Every page and form works without JavaScript; the script only
// copies to the clipboard, shows a Test result in place and keeps relative
// times current.
//
// The UI is an adapter like the JSON API: every rule lives in the domain
// services, which the UI calls directly (never hookd's own HTTP API).
//
// Security of the pages:
//   - A signed-in browser holds a random session token in a cookie
//     (HttpOnly, SameSite=Strict, Secure over TLS, expiring); the database
//     keeps only its SHA-256, through store.Store, so every node of a
//     cluster accepts it. Signing out deletes the session; revoking the
//     key that signed in ends its sessions at once, on every node.
//   - Every state-changing form carries a CSRF token derived from the
//     session token, checked in constant time; a POST whose Origin or
//     Sec-Fetch-Site says it came from another site is refused as well.
//     The sign-in form, which has no session yet, uses a token that must
//     match a cookie of its own.
//   - Every response carries a Content-Security-Policy without inline
//     script and with frame-ancestors 'none', X-Content-Type-Options,
//     Referrer-Policy and Cache-Control: no-store.
//   - Everything users or receivers wrote is escaped by html/template;
//     secrets and keys never appear in a URL or a log.
//   - A project key sees only its own project: other projects' pages
//     answer 404, the same as a project that does not exist.
package ui
