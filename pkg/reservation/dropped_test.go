package reservation

import (
	"testing"

	"github.com/stretchr/testify/assert"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

func TestDropped(t *testing.T) {
	parties := []string{"alice", "bob", "carol"}
	tests := []struct {
		name  string
		state *kusciav1alpha1.ReservationStatus
		want  []string
	}{
		{name: "not reserved yet", state: nil, want: nil},
		{name: "all reserved", state: &kusciav1alpha1.ReservationStatus{ReservedParties: parties}, want: nil},
		{name: "partial gang", state: &kusciav1alpha1.ReservationStatus{ReservedParties: []string{"bob"}}, want: []string{"alice", "carol"}},
		{name: "none reserved", state: &kusciav1alpha1.ReservationStatus{}, want: parties},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Dropped(tc.state, parties))
		})
	}
}

// NotReserved keeps the parties' order and says nil when all reserved, as
// the tally and status expect.
func TestNotReserved(t *testing.T) {
	parties := []string{"alice", "bob", "carol"}
	assert.Equal(t, parties, NotReserved(nil, parties))
	assert.Equal(t, []string{"alice", "carol"}, NotReserved([]string{"bob", "dave"}, parties))
	assert.Nil(t, NotReserved([]string{"carol", "alice", "bob"}, parties))
}
