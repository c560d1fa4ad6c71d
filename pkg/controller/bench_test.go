package controller

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// wideTask is the seed's PSI task spread over n parties.
func wideTask(b *testing.B, n int) []runtime.Object {
	task := seedTask(b, examples.PSITaskFile)
	task.Spec.Parties = nil
	objs := []runtime.Object{task, appImage(b, examples.SecretflowImageFile)}
	for i := range n {
		d := fmt.Sprintf("party-%d", i)
		task.Spec.Parties = append(task.Spec.Parties, kusciav1alpha1.PartyInfo{DomainID: d, AppImageRef: "secretflow-image"})
		objs = append(objs, domain(d))
	}
	task.Spec.Initiator = "party-0"
	return objs
}

// BenchmarkSync compares the sync that creates a task's resources (the
// baseline) with the steady-state sync of the same task, which must make no
// API calls and cost a small fraction of it. `make bench` prints both; read
// the ratio of their ns/op.
func BenchmarkSync(b *testing.B) {
	for _, parties := range []int{2, 16} {
		b.Run(fmt.Sprintf("create/parties=%d", parties), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				f := newFixture(&testing.T{}, wideTask(b, parties)...)
				f.refresh()
				b.StartTimer()
				if _, err := f.c.syncHandler(f.ctx, keyOf(psi)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("steady/parties=%d", parties), func(b *testing.B) {
			f := newFixture(&testing.T{}, wideTask(b, parties)...)
			f.mustSync(psi) // writes Pending, then creates
			f.mustSync(psi) // reports what it created
			f.refresh()
			f.kube.ClearActions()
			f.kuscia.ClearActions()
			for b.Loop() {
				if _, err := f.c.syncHandler(f.ctx, keyOf(psi)); err != nil {
					b.Fatal(err)
				}
			}
			if n := len(f.writes()); n != 0 {
				b.Fatalf("steady-state sync wrote %d times", n)
			}
		})
	}
}
