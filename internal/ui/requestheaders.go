package ui

import (
	"cmp"
	"strconv"
	"time"

	"github.com/hookd/hookd/internal/service"
)

// The request headers an attempt was sent with, for the delivery page.
// hookd keeps only the signature with each attempt; the rest follow from
// it: webhook-id is the event id, webhook-timestamp the attempt's start
// in whole seconds (what was signed), content-type and user-agent are
// hookd's own. No secret is ever among them.

// requestHeader is one header as the page lists it.
type requestHeader struct {
	Name, Value string
	Note        string // said beside the value
}

// defaultUserAgent is shown when the UI was not told the one sent.
const defaultUserAgent = "hookd"

func init() {
	funcs["requestHeaders"] = requestHeaders
}

// requestHeaders lists the headers attempt a of the event eventID went
// with; ua is the User-Agent hookd sends.
func requestHeaders(ua, eventID string, a service.Attempt) []requestHeader {
	sig := requestHeader{Name: "webhook-signature", Value: a.Signature}
	if a.Signature == "" {
		sig.Note = "not recorded: the attempt was made before hookd kept it, or was not signed"
	}
	return []requestHeader{
		{Name: "content-type", Value: "application/json"},
		{Name: "user-agent", Value: cmp.Or(ua, defaultUserAgent)},
		{Name: "webhook-id", Value: eventID, Note: "the event id, the same on every attempt"},
		{Name: "webhook-timestamp", Value: strconv.FormatInt(a.StartedAt.Unix(), 10), Note: a.StartedAt.UTC().Format(time.DateTime) + " UTC"},
		sig,
	}
}
