package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/component-base/logs"
	psapi "k8s.io/pod-security-admission/api"

	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/controller"
	"kusciatask.io/controller/pkg/gate"
	"kusciatask.io/controller/pkg/podgroup"
)

func parse(t *testing.T, args ...string) (options, string, error) {
	t.Helper()
	var out bytes.Buffer
	o, err := parseFlags(args, &out)
	return o, out.String(), err
}

func TestFlagDefaults(t *testing.T) {
	t.Setenv("KUBECONFIG", "/tmp/kubeconfig")
	t.Setenv("POD_NAMESPACE", "")
	o, _, err := parse(t)
	require.NoError(t, err)
	assert.Equal(t, logs.NewOptions(), o.logs, "component-base's logging defaults")
	o.logs = nil
	assert.Equal(t, options{
		kubeconfig:             "/tmp/kubeconfig",
		workers:                4,
		qps:                    100,
		burst:                  200,
		resync:                 10 * time.Minute,
		leaderElectNamespace:   ownNamespace(os.Getenv, os.ReadFile),
		markKeySecret:          ownNamespace(os.Getenv, os.ReadFile) + "/kusciatask-controller-mark-key",
		leaderElectID:          "kusciatask-controller",
		metricsBindAddress:     ":8080",
		healthProbeBindAddress: ":8081",
		podSecurityLevel:       "baseline",
		maxReplicasPerParty:    builder.DefaultMaxReplicasPerParty,
		maxPodsPerTask:         builder.DefaultMaxPodsPerTask,
		reservationGate:        true,
		gateImage:              "",
		pullDuringReservation:  true,
		podGroups:              podgroup.ModeAuto,
		statusBatchDelay:       controller.DefaultStatusBatchDelay,
	}, o)
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantOut string
	}{
		{[]string{"--workers=0"}, "--workers must be at least 1"},
		{[]string{"--status-batch-delay=-1s"}, "--status-batch-delay must not be negative"},
		{[]string{"--mark-key-secret=just-a-name"}, "--mark-key-secret \"just-a-name\": want namespace/name"},
		{[]string{"--mark-key-secret=ns/"}, "want namespace/name"},
		{[]string{"--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"--logging-format=xml"}, "logging flags: format: Invalid value: \"xml\""},
		{[]string{"extra"}, `unexpected arguments "extra"`},
		{[]string{"--profiling", "--metrics-bind-address=0"}, "--profiling serves on the metrics address"},
	}
	for _, tt := range tests {
		_, out, err := parse(t, tt.args...)
		assert.Error(t, err, tt.args)
		assert.Contains(t, out, tt.wantOut)
	}
	_, out, err := parse(t, "-h")
	assert.True(t, errors.Is(err, errHelp))
	out = strings.Join(strings.Fields(out), " ") // unwrapped
	assert.Contains(t, out, "Usage:")
	assert.Contains(t, out, "--version")
	assert.Contains(t, out, "--pod-security-level")
	assert.Contains(t, out, "--profiling")
	// The gate image's rule is stated in --help.
	assert.Contains(t, out, "the image of the controller's own container")
	assert.Contains(t, out, `outside a cluster, kusciatask-controller:<version>, the image "make image" builds`)
}

func TestVersionFlag(t *testing.T) {
	o, _, err := parse(t, "--version")
	require.NoError(t, err)
	assert.True(t, o.printVersion)
}

func TestOwnNamespace(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	file := func(v string, err error) func(string) ([]byte, error) {
		return func(string) ([]byte, error) { return []byte(v), err }
	}
	notFound := errors.New("no such file")
	assert.Equal(t, "ops", ownNamespace(env("ops"), file("other", nil)), "POD_NAMESPACE wins")
	assert.Equal(t, "from-sa", ownNamespace(env(""), file("from-sa\n", nil)), "else the ServiceAccount's")
	assert.Equal(t, defaultLeaseNamespace, ownNamespace(env(""), file("", notFound)), "else kuscia-system")
}

func TestPolicyFlags(t *testing.T) {
	o, _, err := parse(t, "--pod-security-level=restricted", "--max-replicas-per-party=5", "--max-pods-per-task=9")
	require.NoError(t, err)
	o.gateImage = gate.DefaultImage() // what resolveGateImage returns outside a cluster
	p, err := o.policy()
	require.NoError(t, err)
	assert.Equal(t, builder.Policy{PodSecurityLevel: psapi.LevelRestricted, MaxReplicasPerParty: 5, MaxPodsPerTask: 9,
		Gate: builder.GatePolicy{Image: gate.DefaultImage(), PullImages: true}}, p)

	o, _, err = parse(t)
	require.NoError(t, err)
	_, err = o.policy()
	require.Error(t, err, "an empty --gate-image must be resolved before the policy is built")
	o.gateImage = gate.DefaultImage() // what resolveGateImage returns outside a cluster
	p, err = o.policy()
	require.NoError(t, err)
	assert.Equal(t, builder.Policy{PodSecurityLevel: psapi.LevelBaseline,
		MaxReplicasPerParty: builder.DefaultMaxReplicasPerParty, MaxPodsPerTask: builder.DefaultMaxPodsPerTask,
		Gate: builder.GatePolicy{Image: gate.DefaultImage(), PullImages: true}}, p, "defaults")
}

func TestGateFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want builder.GatePolicy
	}{
		{"default: gated with the controller's image, resolved at start-up, images pulled during the reservation", nil,
			builder.GatePolicy{Image: gate.DefaultImage(), PullImages: true}},
		{"own registry", []string{"--gate-image=registry.example/kuscia/kusciatask-controller:v1"},
			builder.GatePolicy{Image: "registry.example/kuscia/kusciatask-controller:v1", PullImages: true}},
		{"images pulled once the gate opens", []string{"--pull-during-reservation=false"}, builder.GatePolicy{Image: gate.DefaultImage()}},
		{"gate off, pull flag ignored", []string{"--reservation-gate=false", "--pull-during-reservation=true"}, builder.GatePolicy{}},
		{"gate off", []string{"--reservation-gate=false"}, builder.GatePolicy{}},
		{"gate off, image ignored", []string{"--reservation-gate=false", "--gate-image="}, builder.GatePolicy{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, _, err := parse(t, tc.args...)
			require.NoError(t, err)
			if o.reservationGate {
				o.gateImage, err = resolveGateImage(context.Background(), o.gateImage, func(string) string { return "" }, nil)
				require.NoError(t, err)
			}
			p, err := o.policy()
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.Gate)
			assert.Equal(t, tc.want.Image != "", p.Gate.Enabled())
		})
	}
}

func TestPolicyFlagErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown level", []string{"--pod-security-level=strict"}, "--pod-security-level"},
		{"no replicas", []string{"--max-replicas-per-party=0"}, "--max-replicas-per-party must be between 1 and 1000, got 0"},
		{"replicas above the CRD", []string{"--max-replicas-per-party=1001"}, "--max-replicas-per-party must be between 1 and 1000"},
		{"no pods", []string{"--max-pods-per-task=0"}, "--max-pods-per-task must be at least 1"},
		{"gate image with a space inside", []string{"--gate-image=x :1"}, "--gate-image must be an image reference"},
		{"gate image with spaces", []string{"--gate-image= x:1"}, "--gate-image must be an image reference"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, out, err := parse(t, tc.args...)
			assert.ErrorContains(t, err, tc.want)
			assert.Contains(t, out, tc.want, "the error is printed for the user")
		})
	}
}

func TestPodGroupsFlag(t *testing.T) {
	for arg, want := range map[string]podgroup.Mode{"": podgroup.ModeAuto, "auto": podgroup.ModeAuto, "true": podgroup.ModeOn, "false": podgroup.ModeOff} {
		args := []string{}
		if arg != "" {
			args = append(args, "--pod-groups="+arg)
		}
		o, _, err := parse(t, args...)
		require.NoError(t, err, arg)
		assert.Equal(t, want, o.podGroups, arg)
	}
	_, out, err := parse(t, "--pod-groups=maybe")
	require.Error(t, err)
	assert.Contains(t, out, "want auto, true or false")
}
