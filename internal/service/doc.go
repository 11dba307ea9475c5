// Package service is hookd's domain layer, between the front ends (the
// JSON API in internal/api, the web UI) and the store: every rule about
// projects and API keys, endpoints, events and their one webhook body,
// the event log and resends, and signing secrets is here, once.
//
// Front ends decode their input into the plain structs of this package,
// call a service and render what it returns. They authenticate the caller
// (Keys.Authenticate) and decide what it may do; the service scopes by
// the project id every call takes, so a front end that authorized a
// project cannot reach another's data.
//
// Errors a user may see are *Error: a Code, a Message safe to show, and
// the Field it is about. Errors of the store and the publisher are
// translated here (not found, unavailable, shutting down); anything else
// is internal, for the front end to log and hide (AsError).
package service
