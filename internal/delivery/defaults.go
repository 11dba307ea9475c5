package delivery

import "time"

// Defaults of Config, exported so that the command line's flags and help
// text and app.Config apply the same values.
const (
	// DefaultWorkers bounds the requests in flight on one node.
	DefaultWorkers = 256
	// DefaultPerEndpoint bounds the requests in flight to one endpoint.
	DefaultPerEndpoint = 32
	// DefaultClaimBatch caps the deliveries taken by one claim (one write
	// transaction).
	DefaultClaimBatch = 128
	// DefaultPollInterval is the longest idle sleep of the engine.
	DefaultPollInterval = time.Second
	// MinLease and LeaseTimeouts make DefaultLease.
	MinLease      = 5 * time.Minute
	LeaseTimeouts = 10
)

// DefaultLease is how long a claim should stay with a node whose requests
// time out after timeout: longer than a request at the timeout plus its
// wait behind the endpoint's other requests, up to 8 rounds of the
// timeout (slots.queueCap), so LeaseTimeouts × timeout, and never less
// than MinLease, so a node that pauses briefly keeps its work.
func DefaultLease(timeout time.Duration) time.Duration {
	return max(MinLease, LeaseTimeouts*timeout)
}
