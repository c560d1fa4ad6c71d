package gate

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"
)

// gateFile is an in-memory gate file.
type gateFile struct {
	mu    sync.Mutex
	value string
	err   error
	reads int
}

func (f *gateFile) set(value string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.value, f.err = value, err
}

func (f *gateFile) read() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.value, f.err
}

var start = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// run starts w.Wait and returns its result channel once the waiter sleeps on
// the fake clock (ticker and timer registered), so steps are never lost.
func run(t *testing.T, ctx context.Context, clk *clocktesting.FakeClock, w Waiter) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Wait(ctx) }()
	for !clk.HasWaiters() {
		select {
		case err := <-done:
			done <- err // returned without sleeping: hand the result on
			return done
		default:
			time.Sleep(time.Millisecond)
		}
	}
	return done
}

func newWaiter(clk *clocktesting.FakeClock, f *gateFile, deadline time.Duration) Waiter {
	return Waiter{Read: f.read, Clock: clk, Interval: time.Second, Deadline: start.Add(deadline)}
}

func TestWaitOpensOnAnOpenValue(t *testing.T) {
	for _, value := range []string{"open", "open\n", " open "} {
		clk := clocktesting.NewFakeClock(start)
		f := &gateFile{value: "closed"}
		done := run(t, context.Background(), clk, newWaiter(clk, f, time.Minute))

		clk.Step(time.Second)
		f.set(value, nil)
		clk.Step(time.Second)
		require.NoError(t, <-done, "value %q", value)
	}
}

func TestWaitReturnsAtOnceWhenAlreadyOpen(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	f := &gateFile{value: "open"}
	// Even past the deadline: an opened gate always opens.
	w := newWaiter(clk, f, -time.Hour)
	require.NoError(t, w.Wait(context.Background()))
	assert.Equal(t, 1, f.reads)
	assert.False(t, clk.HasWaiters(), "no timer left behind")
}

func TestWaitFailsAtTheDeadline(t *testing.T) {
	for _, value := range []string{"", "closed", "Open", "opened"} {
		clk := clocktesting.NewFakeClock(start)
		f := &gateFile{value: value}
		done := run(t, context.Background(), clk, newWaiter(clk, f, 5*time.Second))

		clk.Step(5 * time.Second)
		err := <-done
		require.Error(t, err, "value %q", value)
		assert.True(t, IsClosed(err))
		assert.Equal(t, DeadlineMessage(start.Add(5*time.Second)), err.Error())
	}
}

// A deadline already passed when the gate starts fails after one last look.
func TestWaitWithAPastDeadline(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	f := &gateFile{value: "closed"}
	done := run(t, context.Background(), clk, newWaiter(clk, f, -time.Minute))
	clk.Step(time.Millisecond)
	err := <-done
	assert.True(t, IsClosed(err), "got %v", err)
}

// Opened by the time the deadline fires: the last look opens it.
func TestWaitOpenAtTheDeadlineOpens(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	f := &gateFile{value: "closed"}
	w := newWaiter(clk, f, 5*time.Second)
	w.Interval = time.Minute // no tick before the deadline
	done := run(t, context.Background(), clk, w)
	f.set("open", nil)
	clk.Step(5 * time.Second)
	require.NoError(t, <-done)
}

// Read errors are survived; the last one is reported at the deadline, and a
// later successful open still opens.
func TestWaitReadErrors(t *testing.T) {
	missing := errors.New("open /etc/kuscia-gate/gate: no such file or directory")

	clk := clocktesting.NewFakeClock(start)
	f := &gateFile{err: missing}
	done := run(t, context.Background(), clk, newWaiter(clk, f, 3*time.Second))
	clk.Step(3 * time.Second)
	err := <-done
	require.True(t, IsClosed(err))
	assert.Equal(t, DeadlineMessage(start.Add(3*time.Second))+"; last read error: "+missing.Error(), err.Error())

	clk = clocktesting.NewFakeClock(start)
	f = &gateFile{err: missing}
	done = run(t, context.Background(), clk, newWaiter(clk, f, time.Minute))
	clk.Step(time.Second)
	f.set("open", nil)
	clk.Step(time.Second)
	require.NoError(t, <-done)
}

func TestWaitStopsWithTheContext(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	f := &gateFile{value: "closed"}
	ctx, cancel := context.WithCancel(context.Background())
	done := run(t, ctx, clk, newWaiter(clk, f, time.Minute))
	cancel()
	err := <-done
	require.True(t, IsClosed(err))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "kuscia-gate: stopped with the gate closed: context canceled", err.Error())
}

func TestWaitRefusesABadInterval(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	f := &gateFile{value: "open"}
	for _, interval := range []time.Duration{0, -time.Second, time.Millisecond, 2 * time.Minute} {
		w := newWaiter(clk, f, time.Minute)
		w.Interval = interval
		err := w.Wait(context.Background())
		require.Error(t, err, "interval %s", interval)
		assert.False(t, IsClosed(err))
	}
	assert.Zero(t, f.reads, "a bad interval is refused before reading")
}

// A change signal makes the waiter read the file at once, without waiting
// for its next tick (the fake clock never moves here).
func TestWaitReadsOnAChangeSignal(t *testing.T) {
	clk := clocktesting.NewFakeClock(start)
	f := &gateFile{value: "closed"}
	changed := make(chan struct{}) // unbuffered: a send returns once the waiter took it
	w := newWaiter(clk, f, time.Hour)
	w.Interval = time.Minute
	w.Changed = changed
	done := run(t, context.Background(), clk, w)

	changed <- struct{}{} // a change that leaves the gate closed
	f.set("open", nil)
	var err error
	select {
	case changed <- struct{}{}:
		err = <-done
	case err = <-done: // the first signal's read already saw "open"
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not take a change signal")
	}
	require.NoError(t, err)
	assert.GreaterOrEqual(t, f.reads, 2, "read at start and on a signal")
}
