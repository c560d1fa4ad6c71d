// Counting the tasks that wait for an unreachable API server, so an outage
// is logged once per interval.

package controller

import (
	"errors"
	"net"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/utils/clock"
)

// outageLogInterval is how often, while the API server is unreachable,
// the controller says so (with the number of tasks waiting), instead of
// one error per task per retry.
const outageLogInterval = 10 * time.Second

// unreachable reports whether err says the API server could not be
// reached (noResponse) or did not answer in time (its own timeout, a
// gateway timeout, 503): an outage every task meets alike, not a fault of
// one task.
func unreachable(err error) bool {
	return noResponse(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err)
}

// noResponse reports whether err is a transport failure that brought no
// answer at all: connection refused or reset, the connection closed
// early, a network timeout, any other network operation error.
func noResponse(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	var opErr *net.OpError
	return utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) ||
		(errors.As(err, &netErr) && netErr.Timeout()) || errors.As(err, &opErr)
}

// outage tracks the tasks whose last sync failed because the API server
// was unreachable, so that processNextWorkItem logs the outage once per
// outageLogInterval and not once per task.
type outage struct {
	mu      sync.Mutex
	clock   clock.PassiveClock
	waiting map[string]struct{}
	// loggedAt is when the outage was last logged; zero when no outage is
	// under way.
	loggedAt time.Time
}

func newOutage(c clock.PassiveClock) *outage {
	return &outage{clock: c, waiting: map[string]struct{}{}}
}

// failed records that the task's sync met the outage. It returns whether
// to log now (the first failure, then once per outageLogInterval) and how
// many tasks wait.
func (o *outage) failed(task string) (logNow bool, waiting int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waiting[task] = struct{}{}
	now := o.clock.Now()
	if o.loggedAt.IsZero() || now.Sub(o.loggedAt) >= outageLogInterval {
		o.loggedAt = now
		return true, len(o.waiting)
	}
	return false, len(o.waiting)
}

// synced records that the task's sync did not meet the outage (it
// succeeded, or failed for another reason). It returns true when this
// ends the outage: no task waits for the API server any more.
func (o *outage) synced(task string) (ended bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.waiting[task]; !ok {
		return false
	}
	delete(o.waiting, task)
	if len(o.waiting) > 0 || o.loggedAt.IsZero() {
		return false
	}
	o.loggedAt = time.Time{}
	return true
}
