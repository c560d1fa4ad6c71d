package gate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/clock"
)

// Poll intervals the gate accepts: often enough to open promptly, seldom
// enough to cost nothing.
const (
	MinPollInterval     = 10 * time.Millisecond
	MaxPollInterval     = time.Minute
	DefaultPollInterval = time.Second
)

// Waiter waits for the gate to open. It is the gate binary's logic, with the
// file and the clock injected.
type Waiter struct {
	// Read returns the gate file's content.
	Read func() (string, error)
	// Clock drives the polling and the deadline.
	Clock clock.WithTicker
	// Interval is how often Read is called.
	Interval time.Duration
	// Deadline is when the waiter gives up.
	Deadline time.Time
	// Changed, when set, delivers a value whenever the file may have
	// changed (a watch on its directory): the waiter reads the file at
	// once instead of at the next tick. The ticks go on as a safety net
	// for a watch that misses an event.
	Changed <-chan struct{}
}

// ClosedError says the gate did not open: the deadline passed, or the wait
// was stopped. Its message is what the gate writes to its termination log.
type ClosedError struct {
	// Deadline is the deadline that passed; zero when the wait was stopped.
	Deadline time.Time
	// LastReadErr is the last error reading the file, if any.
	LastReadErr error
	// Cause is why a stopped wait stopped.
	Cause error
}

func (e *ClosedError) Error() string {
	msg := DeadlineMessage(e.Deadline)
	if e.Cause != nil {
		msg = fmt.Sprintf("kuscia-gate: stopped with the gate closed: %v", e.Cause)
	}
	if e.LastReadErr != nil {
		msg += fmt.Sprintf("; last read error: %v", e.LastReadErr)
	}
	return msg
}

func (e *ClosedError) Unwrap() error { return e.Cause }

// Wait returns nil as soon as Read returns an open value, read at every
// tick and every Changed signal (even past the deadline: an opened gate
// always opens), or a *ClosedError once the
// deadline passed with the gate closed, or when ctx is done. A read error is
// not fatal (the kubelet replaces the file atomically, but a misconfigured
// mount should still end at the deadline with its cause); the last one is
// reported.
func (w Waiter) Wait(ctx context.Context) error {
	if w.Interval < MinPollInterval || w.Interval > MaxPollInterval {
		return fmt.Errorf("poll interval %s is outside [%s, %s]", w.Interval, MinPollInterval, MaxPollInterval)
	}
	var lastErr error
	check := func() bool {
		value, err := w.Read()
		if err != nil {
			lastErr = err
			return false
		}
		return IsOpen(value)
	}
	if check() {
		return nil
	}
	ticker := w.Clock.NewTicker(w.Interval)
	defer ticker.Stop()
	timer := w.Clock.NewTimer(w.Deadline.Sub(w.Clock.Now()))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return &ClosedError{LastReadErr: lastErr, Cause: ctx.Err()}
		case <-timer.C():
			if check() {
				return nil
			}
			return &ClosedError{Deadline: w.Deadline, LastReadErr: lastErr}
		case <-ticker.C():
			if check() {
				return nil
			}
		case <-w.Changed: // never ready when Changed is nil
			if check() {
				return nil
			}
		}
	}
}

// IsClosed reports whether err says the gate did not open.
func IsClosed(err error) bool {
	var closed *ClosedError
	return errors.As(err, &closed)
}
