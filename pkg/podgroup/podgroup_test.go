package podgroup

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func TestParseMode(t *testing.T) {
	for value, want := range map[string]Mode{"auto": ModeAuto, "true": ModeOn, "false": ModeOff, " auto ": ModeAuto} {
		got, err := ParseMode(value)
		require.NoError(t, err, value)
		assert.Equal(t, want, got)
	}
	for _, value := range []string{"", "yes", "on", "True", "1"} {
		_, err := ParseMode(value)
		assert.ErrorContains(t, err, "want auto, true or false", value)
	}
}

func TestModeIsAFlag(t *testing.T) {
	var m Mode
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.Var(&m, "pod-groups", "usage")
	assert.Equal(t, "auto", fs.Lookup("pod-groups").DefValue, "the zero Mode reads as auto")
	require.NoError(t, fs.Parse([]string{"--pod-groups=false"}))
	assert.Equal(t, ModeOff, m)
	fs.SetOutput(&strings.Builder{})
	assert.Error(t, fs.Parse([]string{"--pod-groups=maybe"}))
	assert.Equal(t, ModeOff, m, "a bad value leaves the flag alone")
}

// discoveryWith is a fake discovery serving the given group versions and
// resources, or failing with err.
func discoveryWith(err error, lists ...*metav1.APIResourceList) *fakediscovery.FakeDiscovery {
	d := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: lists}}
	if err != nil {
		d.AddReactor("get", "resource", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, err })
	}
	return d
}

var (
	servedV1beta1 = &metav1.APIResourceList{GroupVersion: "scheduling.k8s.io/v1beta1", APIResources: []metav1.APIResource{
		{Name: "podgroups", Namespaced: true, Kind: "PodGroup"},
		{Name: "podgroups/status", Namespaced: true, Kind: "PodGroup"},
		{Name: "workloads", Namespaced: true, Kind: "Workload"},
	}}
	// The beta group version with only the other resources (a partial
	// enablement through --runtime-config=scheduling.k8s.io/v1beta1/workloads).
	v1beta1WithoutPodGroups = &metav1.APIResourceList{GroupVersion: "scheduling.k8s.io/v1beta1", APIResources: []metav1.APIResource{
		{Name: "workloads", Namespaced: true, Kind: "Workload"},
	}}
	// Only the stable group version (priority classes): the default cluster.
	stableOnly = &metav1.APIResourceList{GroupVersion: "scheduling.k8s.io/v1", APIResources: []metav1.APIResource{
		{Name: "priorityclasses", Kind: "PriorityClass"},
	}}
	// PodGroups in another version only.
	alphaOnly = &metav1.APIResourceList{GroupVersion: "scheduling.k8s.io/v1alpha3", APIResources: []metav1.APIResource{
		{Name: "podgroups", Namespaced: true, Kind: "PodGroup"},
	}}
)

var errUnreachable = errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")

func TestServed(t *testing.T) {
	tests := []struct {
		name    string
		d       *fakediscovery.FakeDiscovery
		want    bool
		wantErr string
	}{
		{name: "served", d: discoveryWith(nil, stableOnly, servedV1beta1), want: true},
		{name: "group version unknown", d: discoveryWith(nil, stableOnly)},
		{name: "no scheduling group at all", d: discoveryWith(nil)},
		{name: "group version without podgroups", d: discoveryWith(nil, v1beta1WithoutPodGroups)},
		{name: "podgroups in another version", d: discoveryWith(nil, alphaOnly)},
		{name: "unreachable", d: discoveryWith(errUnreachable), wantErr: "discover scheduling.k8s.io/v1beta1: dial tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Served(context.Background(), tt.d)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.ErrorIs(t, err, errUnreachable)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// A real clientset's discovery (here the fake one) is accepted as is.
func TestServedTakesAClientsetDiscovery(t *testing.T) {
	client := fake.NewClientset()
	client.Resources = []*metav1.APIResourceList{servedV1beta1}
	served, err := Served(context.Background(), client.Discovery())
	require.NoError(t, err)
	assert.True(t, served)
}

func TestEnabled(t *testing.T) {
	tests := []struct {
		name      string
		mode      Mode
		d         *fakediscovery.FakeDiscovery
		want      bool
		wantErr   error
		wantAsked bool
	}{
		{name: "auto, served", mode: ModeAuto, d: discoveryWith(nil, servedV1beta1), want: true, wantAsked: true},
		{name: "auto, not served", mode: ModeAuto, d: discoveryWith(nil, stableOnly), wantAsked: true},
		{name: "unset means auto", mode: "", d: discoveryWith(nil, servedV1beta1), want: true, wantAsked: true},
		{name: "true, served", mode: ModeOn, d: discoveryWith(nil, servedV1beta1), want: true, wantAsked: true},
		{name: "true, not served", mode: ModeOn, d: discoveryWith(nil, stableOnly), wantErr: ErrNotServed, wantAsked: true},
		{name: "false, served", mode: ModeOff, d: discoveryWith(nil, servedV1beta1)},
		{name: "false, unreachable", mode: ModeOff, d: discoveryWith(errUnreachable)},
		{name: "auto, unreachable", mode: ModeAuto, d: discoveryWith(errUnreachable), wantErr: errUnreachable, wantAsked: true},
		{name: "true, unreachable", mode: ModeOn, d: discoveryWith(errUnreachable), wantErr: errUnreachable, wantAsked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Enabled(context.Background(), tt.mode, tt.d)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.False(t, got)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
			}
			assert.Equal(t, tt.wantAsked, len(tt.d.Actions()) > 0, "discovery asked")
		})
	}
	_, err := Enabled(context.Background(), "sometimes", discoveryWith(nil))
	assert.ErrorContains(t, err, `invalid --pod-groups mode "sometimes"`)
}

func TestErrNotServedSaysWhatToEnable(t *testing.T) {
	for _, want := range []string{"GenericWorkload", "kube-apiserver", "kube-scheduler", "kube-controller-manager",
		"--runtime-config=scheduling.k8s.io/v1beta1=true", "--pod-groups=auto"} {
		assert.Contains(t, ErrNotServed.Error(), want)
	}
}

var owner = metav1.OwnerReference{
	APIVersion: "kuscia.secretflow/v1alpha1", Kind: "KusciaTask", Name: "psi", UID: types.UID("task-uid"),
	Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
}

func TestNew(t *testing.T) {
	labels := map[string]string{"kuscia.secretflow/task": "psi", "kuscia.secretflow/party": "alice"}
	pg, err := New("alice", "psi", labels, owner, 3)
	require.NoError(t, err)
	assert.Equal(t, &schedulingv1beta1.PodGroup{
		TypeMeta: metav1.TypeMeta{APIVersion: "scheduling.k8s.io/v1beta1", Kind: "PodGroup"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "psi", Namespace: "alice", Labels: labels,
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: schedulingv1beta1.PodGroupSpec{SchedulingPolicy: schedulingv1beta1.PodGroupSchedulingPolicy{
			Gang: &schedulingv1beta1.GangSchedulingPolicy{MinCount: 3},
		}},
	}, pg)

	labels["kuscia.secretflow/party"] = "changed"
	assert.Equal(t, "alice", pg.Labels["kuscia.secretflow/party"], "labels are copied")
}

func TestNewRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, namespace, group string
		minCount               int32
		wantErr                string
	}{
		{name: "minCount 0", namespace: "alice", group: "psi", minCount: 0, wantErr: "minCount must be at least 1, got 0"},
		{name: "negative minCount", namespace: "alice", group: "psi", minCount: -2, wantErr: "minCount must be at least 1, got -2"},
		{name: "no namespace", group: "psi", minCount: 1, wantErr: "namespace is empty"},
		{name: "empty name", namespace: "alice", minCount: 1, wantErr: `pod group name ""`},
		{name: "upper case name", namespace: "alice", group: "PSI", minCount: 1, wantErr: `pod group name "PSI"`},
		{name: "name too long", namespace: "alice", group: strings.Repeat("a", 254), minCount: 1, wantErr: "must be no more than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pg, err := New(tt.namespace, tt.group, nil, owner, tt.minCount)
			assert.Nil(t, pg)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestJoin(t *testing.T) {
	pod := &corev1.Pod{}
	Join(pod, "psi")
	require.NotNil(t, pod.Spec.SchedulingGroup)
	assert.Equal(t, "psi", *pod.Spec.SchedulingGroup.PodGroupName)
}

func condition(status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: schedulingv1beta1.PodGroupInitiallyScheduled, Status: status, Reason: reason, Message: message}
}

func TestNotScheduledMessage(t *testing.T) {
	const unschedulable = "minCount (3) cannot be satisfied: 2 scheduled, 0 remaining, pod group preemption: No preemption victims found for incoming preemptor"
	other := metav1.Condition{Type: schedulingv1beta1.DisruptionTarget, Status: metav1.ConditionFalse, Reason: "x", Message: "not this one"}
	tests := []struct {
		name        string
		conditions  []metav1.Condition
		wantMessage string
		wantOK      bool
	}{
		{name: "no status yet"},
		{name: "other conditions only", conditions: []metav1.Condition{other}},
		{
			name:        "unschedulable",
			conditions:  []metav1.Condition{other, condition(metav1.ConditionFalse, schedulingv1beta1.PodGroupReasonUnschedulable, unschedulable)},
			wantMessage: unschedulable, wantOK: true,
		},
		{
			name:        "scheduler error",
			conditions:  []metav1.Condition{condition(metav1.ConditionFalse, schedulingv1beta1.PodGroupReasonSchedulerError, " bad affinity \n")},
			wantMessage: "bad affinity", wantOK: true,
		},
		{
			name:        "false without a message gives the reason",
			conditions:  []metav1.Condition{condition(metav1.ConditionFalse, schedulingv1beta1.PodGroupReasonUnschedulable, "")},
			wantMessage: "Unschedulable", wantOK: true,
		},
		{
			name:        "a long message is cut",
			conditions:  []metav1.Condition{condition(metav1.ConditionFalse, schedulingv1beta1.PodGroupReasonUnschedulable, strings.Repeat("é", MaxMessageLength))},
			wantMessage: strings.Repeat("é", MaxMessageLength/2) + "…", wantOK: true,
		},
		{name: "scheduled", conditions: []metav1.Condition{condition(metav1.ConditionTrue, "Scheduled", "ok")}},
		{name: "unknown", conditions: []metav1.Condition{condition(metav1.ConditionUnknown, "Pending", "wait")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pg := &schedulingv1beta1.PodGroup{Status: schedulingv1beta1.PodGroupStatus{Conditions: tt.conditions}}
			msg, ok := NotScheduledMessage(pg)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantMessage, msg)
		})
	}
}
