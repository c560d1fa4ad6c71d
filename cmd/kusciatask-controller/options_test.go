package main

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	psapi "k8s.io/pod-security-admission/api"

	"kusciatask.io/controller/pkg/builder"
)

func TestPolicyFlags(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := parseFlags(fs, []string{"--pod-security-level=restricted", "--max-replicas-per-party=5", "--max-pods-per-task=9"})
	p, err := o.policy()
	require.NoError(t, err)
	assert.Equal(t, builder.Policy{PodSecurityLevel: psapi.LevelRestricted, MaxReplicasPerParty: 5, MaxPodsPerTask: 9}, p)

	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	p, err = parseFlags(fs, nil).policy()
	require.NoError(t, err)
	assert.Equal(t, builder.Policy{PodSecurityLevel: psapi.LevelBaseline,
		MaxReplicasPerParty: builder.DefaultMaxReplicasPerParty, MaxPodsPerTask: builder.DefaultMaxPodsPerTask}, p, "defaults")
}

func TestPolicyFlagErrors(t *testing.T) {
	valid := options{workers: 1, podSecurityLevel: "baseline", maxReplicasPerParty: 1, maxPodsPerTask: 1}
	cases := []struct {
		name   string
		mutate func(o *options)
		want   string
	}{
		{"unknown level", func(o *options) { o.podSecurityLevel = "strict" }, "--pod-security-level"},
		{"no replicas", func(o *options) { o.maxReplicasPerParty = 0 }, "--max-replicas-per-party must be between 1 and 1000, got 0"},
		{"replicas above the CRD", func(o *options) { o.maxReplicasPerParty = 1001 }, "--max-replicas-per-party must be between 1 and 1000"},
		{"no pods", func(o *options) { o.maxPodsPerTask = 0 }, "--max-pods-per-task must be at least 1"},
		{"no workers", func(o *options) { o.workers = 0 }, "--workers must be at least 1"},
	}
	require.NoError(t, valid.validate())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := valid
			tc.mutate(&o)
			assert.ErrorContains(t, o.validate(), tc.want)
		})
	}
}
