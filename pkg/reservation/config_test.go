package reservation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

func TestConfigFor(t *testing.T) {
	twoParties := []kusciav1alpha1.PartyInfo{{DomainID: "alice"}, {DomainID: "bob"}}
	defaultConfig := Config{ResourceReserved: 30 * time.Second, Lifecycle: 300 * time.Second, RetryInterval: 30 * time.Second, MinReservedMembers: 2}
	tests := []struct {
		name    string
		parties []kusciav1alpha1.PartyInfo
		sc      *kusciav1alpha1.ScheduleConfig
		want    Config
		wantErr string
	}{
		{name: "no scheduleConfig", parties: twoParties, want: defaultConfig},
		{name: "empty scheduleConfig", parties: twoParties, sc: &kusciav1alpha1.ScheduleConfig{}, want: defaultConfig},
		{
			name: "every field set", parties: twoParties,
			sc: &kusciav1alpha1.ScheduleConfig{
				MinReservedMembers: ptr.To[int32](1), ResourceReservedSeconds: ptr.To[int32](5),
				LifecycleSeconds: ptr.To[int32](60), RetryIntervalSeconds: ptr.To[int32](7),
			},
			want: Config{ResourceReserved: 5 * time.Second, Lifecycle: 60 * time.Second, RetryInterval: 7 * time.Second, MinReservedMembers: 1},
		},
		{
			name: "minReservedMembers equal to parties", parties: twoParties,
			sc:   &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptr.To[int32](2)},
			want: defaultConfig,
		},
		{name: "no parties", wantErr: "spec.parties: must list at least 1 party"},
		{
			name: "resourceReservedSeconds 0", parties: twoParties,
			sc:      &kusciav1alpha1.ScheduleConfig{ResourceReservedSeconds: ptr.To[int32](0)},
			wantErr: "spec.scheduleConfig.resourceReservedSeconds: must be at least 1, got 0",
		},
		{
			name: "lifecycleSeconds 0", parties: twoParties,
			sc:      &kusciav1alpha1.ScheduleConfig{LifecycleSeconds: ptr.To[int32](0)},
			wantErr: "spec.scheduleConfig.lifecycleSeconds: must be at least 1, got 0",
		},
		{
			name: "retryIntervalSeconds negative", parties: twoParties,
			sc:      &kusciav1alpha1.ScheduleConfig{RetryIntervalSeconds: ptr.To[int32](-3)},
			wantErr: "spec.scheduleConfig.retryIntervalSeconds: must be at least 1, got -3",
		},
		{
			name: "minReservedMembers 0", parties: twoParties,
			sc:      &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptr.To[int32](0)},
			wantErr: "spec.scheduleConfig.minReservedMembers: must be at least 1, got 0",
		},
		{
			name: "minReservedMembers above parties", parties: twoParties,
			sc:      &kusciav1alpha1.ScheduleConfig{MinReservedMembers: ptr.To[int32](3)},
			wantErr: "spec.scheduleConfig.minReservedMembers: must not be greater than the number of parties (2), got 3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFor(&kusciav1alpha1.KusciaTaskSpec{Parties: tt.parties, ScheduleConfig: tt.sc})
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				assert.Equal(t, Config{}, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMinReservedPods(t *testing.T) {
	tests := []struct {
		name     string
		min      *int32
		replicas int
		want     int
		wantErr  string
	}{
		{name: "default is replicas", replicas: 3, want: 3},
		{name: "fewer than replicas", min: ptr.To[int32](2), replicas: 3, want: 2},
		{name: "equal to replicas", min: ptr.To[int32](3), replicas: 3, want: 3},
		{name: "no replicas need no pods", replicas: 0, want: 0},
		{name: "zero", min: ptr.To[int32](0), replicas: 3, wantErr: "spec.parties[1].minReservedPods: must be at least 1, got 0"},
		{name: "negative", min: ptr.To[int32](-1), replicas: 3, wantErr: "spec.parties[1].minReservedPods: must be at least 1, got -1"},
		{
			name: "above replicas", min: ptr.To[int32](4), replicas: 3,
			wantErr: "spec.parties[1].minReservedPods: must not be greater than the party's replicas (3), got 4",
		},
		{
			name: "set with no replicas", min: ptr.To[int32](1), replicas: 0,
			wantErr: "spec.parties[1].minReservedPods: must not be greater than the party's replicas (0), got 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MinReservedPods(1, &kusciav1alpha1.PartyInfo{DomainID: "bob", MinReservedPods: tt.min}, tt.replicas)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
