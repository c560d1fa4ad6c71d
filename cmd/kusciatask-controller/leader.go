package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// runWithLeaderElection runs run while this process holds the Lease; losing
// it ends the process's work (another replica takes over).
func runWithLeaderElection(ctx context.Context, opts options, client kubernetes.Interface, run func(context.Context) error) error {
	id, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("get hostname for the leader election identity: %w", err)
	}
	id = fmt.Sprintf("%s_%d", id, os.Getpid())
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: opts.leaderElectNamespace, Name: opts.leaderElectID},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	logger := klog.FromContext(ctx)
	var runErr error
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            opts.leaderElectID,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				logger.Info("Became leader", "identity", id)
				runErr = run(ctx)
			},
			OnStoppedLeading: func() { logger.Info("No longer the leader", "identity", id) },
		},
	})
	return runErr
}
