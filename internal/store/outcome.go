package store

import (
	"errors"
	"fmt"
	"time"
)

// Outcome is what a claimant reports about one claimed delivery: the
// attempt it made, if any, and the state the delivery moves to. Only the
// constructors below make one (Succeeded, RetryAt, Failed, DisableEndpoint,
// Cancel, GiveBack), and they check it once, here, for every driver: an
// Outcome whose Err is not nil — a zero Outcome, a retry without a time — is
// refused by Complete with the rest of its batch. Drivers read it through
// its methods.
//
// Each constructor takes the delivery as it was claimed (Claimed.Delivery):
// its ID, EndpointID and LeaseToken say which claim reports, and at is when
// the outcome was decided (it becomes the delivery's UpdatedAt).
type Outcome struct {
	deliveryID string
	endpointID string
	leaseToken string
	orderKey   string
	status     string
	attempt    Attempt // Number > 0 when an attempt was made
	reason     string  // LastError of an outcome without attempt
	next       time.Time
	updated    time.Time
	disable    bool
	err        error
}

// Succeeded: attempt a delivered the event.
func Succeeded(d Delivery, a Attempt, at time.Time) Outcome {
	return attempted(d, a, StatusSucceeded, at)
}

// RetryAt: attempt a failed, and the delivery is due again at next. A
// retry needs a time: without one it would be due at once on one driver
// and never on another, so a zero next is refused.
func RetryAt(d Delivery, a Attempt, next, at time.Time) Outcome {
	o := attempted(d, a, StatusRetrying, at)
	o.next = next
	if next.IsZero() && o.err == nil {
		o.err = fmt.Errorf("delivery %s: a retry needs the time it is due", d.ID)
	}
	return o
}

// Failed: attempt a failed and no retry is left.
func Failed(d Delivery, a Attempt, at time.Time) Outcome {
	return attempted(d, a, StatusFailed, at)
}

// DisableEndpoint: attempt a was answered 410 Gone. The delivery fails,
// and its endpoint is disabled with reason as its DisabledReason; the
// endpoint's other waiting deliveries are cancelled.
func DisableEndpoint(d Delivery, a Attempt, reason string, at time.Time) Outcome {
	o := attempted(d, a, StatusFailed, at)
	o.disable, o.reason = true, reason
	if d.EndpointID == "" && o.err == nil {
		o.err = fmt.Errorf("delivery %s: disabling needs the endpoint", d.ID)
	}
	return o
}

// Cancel: the delivery was not sent and will not be (its endpoint was
// deleted or disabled). reason becomes its LastError; "" keeps the last.
func Cancel(d Delivery, reason string, at time.Time) Outcome {
	o := claimed(d, StatusCancelled, at)
	o.reason = reason
	return o
}

// GiveBack returns a claim that was not used, as it was before the claim
// (pending, or retrying when it has attempts), due again at at.
func GiveBack(d Delivery, at time.Time) Outcome {
	status := StatusPending
	if d.AttemptCount > 0 {
		status = StatusRetrying
	}
	o := claimed(d, status, at)
	o.next = at
	return o
}

func claimed(d Delivery, status string, at time.Time) Outcome {
	o := Outcome{deliveryID: d.ID, endpointID: d.EndpointID, leaseToken: d.LeaseToken, orderKey: d.OrderingKey,
		status: status, updated: at}
	switch {
	case d.ID == "":
		o.err = errors.New("outcome of no delivery")
	case at.IsZero():
		o.err = fmt.Errorf("delivery %s: an outcome needs its time", d.ID)
	}
	return o
}

func attempted(d Delivery, a Attempt, status string, at time.Time) Outcome {
	o := claimed(d, status, at)
	a.DeliveryID = d.ID
	o.attempt = a
	if a.Number < 1 && o.err == nil {
		o.err = fmt.Errorf("delivery %s: attempt number %d, want 1 or more", d.ID, a.Number)
	}
	return o
}

// Err says why Complete would refuse o; nil when it would not.
func (o Outcome) Err() error {
	if o.status == "" {
		return errors.New("outcome not made by a store constructor")
	}
	return o.err
}

// CheckOutcomes returns the first outcome's Err that is not nil. Every
// driver calls it before recording anything, so a batch is refused whole.
func CheckOutcomes(outcomes []Outcome) error {
	for _, o := range outcomes {
		if err := o.Err(); err != nil {
			return err
		}
	}
	return nil
}

// DeliveryID is the delivery the outcome is about.
func (o Outcome) DeliveryID() string { return o.deliveryID }

// EndpointID is that delivery's endpoint.
func (o Outcome) EndpointID() string { return o.endpointID }

// OrderingKey is the delivery's (see Delivery.OrderingKey): when the
// outcome ends it (succeeded, failed, cancelled), the next delivery of
// that key and endpoint may be claimed.
func (o Outcome) OrderingKey() string { return o.orderKey }

// LeaseToken is the claim's token: the delivery changes only while it is
// still the delivery's (the attempt is recorded in any case).
func (o Outcome) LeaseToken() string { return o.leaseToken }

// Status is the delivery's status after the outcome: succeeded, retrying,
// failed or cancelled; pending for a give-back of a delivery never tried.
func (o Outcome) Status() string { return o.status }

// Attempt is the attempt made; ok=false when none was (Cancel, GiveBack).
// Its DeliveryID is the outcome's.
func (o Outcome) Attempt() (a Attempt, ok bool) { return o.attempt, o.attempt.Number > 0 }

// LastError is the delivery's LastError after an outcome without attempt;
// "" keeps the one it has. (With an attempt, LastError is the attempt's.)
func (o Outcome) LastError() string {
	if o.attempt.Number > 0 {
		return o.attempt.Error
	}
	return o.reason
}

// NextAttemptAt is when the delivery is due again: set exactly when Status
// is retrying or pending, zero otherwise.
func (o Outcome) NextAttemptAt() time.Time { return o.next }

// UpdatedAt is when the outcome was decided.
func (o Outcome) UpdatedAt() time.Time { return o.updated }

// DisablesEndpoint reports whether the outcome disables the endpoint, and
// the reason to store with it.
func (o Outcome) DisablesEndpoint() (reason string, ok bool) { return o.reason, o.disable }
