package controller

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	core "k8s.io/client-go/testing"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
)

// refused is what a client returns when nothing listens on the API
// server's port.
var refused = &url.Error{Op: "Put", URL: "https://127.0.0.1:6443/apis", Err: &net.OpError{Op: "dial", Net: "tcp",
	Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}}

func TestUnreachable(t *testing.T) {
	gr := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused, wrapped", fmt.Errorf("update status of task x: %w", refused), true},
		{"connection reset", &net.OpError{Op: "read", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}, true},
		{"server timeout", apierrors.NewServerTimeout(gr, "create", 1), true},
		{"gateway timeout", apierrors.NewTimeoutError("slow", 1), true},
		{"service unavailable", apierrors.NewServiceUnavailable("starting"), true},
		{"retryable create, wrapped", &retryableError{err: fmt.Errorf("create pod a/b: %w", refused)}, true},
		{"joined with a status write", errors.Join(errors.New("x"), refused), true},
		{"forbidden", apierrors.NewForbidden(gr, "x", errors.New("no")), false},
		{"conflict", apierrors.NewConflict(gr, "x", errors.New("changed")), false},
		{"plain", errors.New("render failed"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, unreachable(tt.err))
		})
	}
}

// While the API server is unreachable, the controller says so once per
// outageLogInterval with the number of tasks waiting, not once per task
// per retry, and records no SyncFailed Event; when it is back, it says so
// once. Other errors are still logged per task.
func TestOutageIsLoggedOncePerInterval(t *testing.T) {
	const tasks = 10
	objs := psiObjects(t)
	for i := 1; i < tasks; i++ {
		task := seedTask(t, "secretflow-task-psi.yaml")
		task.Name, task.UID = fmt.Sprintf("psi-%d", i), types.UID(fmt.Sprintf("uid-%d", i))
		objs = append(objs, task)
	}
	f := newFixture(t, objs...)
	var fail error = refused
	f.kuscia.PrependReactor("update", "kusciatasks", func(core.Action) (bool, runtime.Object, error) {
		if fail != nil {
			return true, nil, fail
		}
		return false, nil, nil
	})
	logger := ktesting.NewLogger(t, ktesting.NewConfig(ktesting.BufferLogs(true)))
	ctx := klog.NewContext(f.ctx, logger)
	names := []string{psi}
	for i := 1; i < tasks; i++ {
		names = append(names, fmt.Sprintf("psi-%d", i))
	}
	syncAll := func() {
		for _, name := range names {
			f.c.queue.Add(keyOf(name))
			f.c.processNextWorkItem(ctx)
		}
	}
	count := func(msg string) int {
		n := 0
		for _, e := range logger.GetSink().(ktesting.Underlier).GetBuffer().Data() {
			if strings.HasPrefix(e.Message, msg) {
				n++
			}
		}
		return n
	}

	// A 20 s outage, every task retried every second: three lines (at 0,
	// 10 and 20 s), not 210.
	for range 21 {
		syncAll()
		f.clock.Step(time.Second)
	}
	assert.Equal(t, 3, count("API server unreachable; tasks waiting to retry"))
	assert.Zero(t, count("Sync failed"))
	for _, e := range f.events() {
		assert.NotContains(t, e, EventSyncFailed)
	}

	fail = nil
	for range 3 {
		syncAll()
	}
	assert.Equal(t, 1, count("API server reachable again"))

	fail = apierrors.NewForbidden(schema.GroupResource{Resource: "kusciatasks"}, psi, errors.New("no"))
	f.clock.Step(time.Minute)
	for _, name := range names {
		// Their status is written: make them write again.
		task := f.task(name)
		task.Status.StartTime = nil
		_ = f.kuscia.Tracker().Update(schemaTasks, task, "")
	}
	f.refresh()
	syncAll()
	failed := map[any]bool{}
	for _, e := range logger.GetSink().(ktesting.Underlier).GetBuffer().Data() {
		if e.Message == "Sync failed; requeued" {
			failed[e.WithKVList[1]] = true
		}
	}
	assert.Len(t, failed, tasks, "other errors are logged per task")
}

var schemaTasks = schema.GroupVersionResource{Group: "kuscia.secretflow", Version: "v1alpha1", Resource: "kusciatasks"}
