package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, args ...string) (options, string, error) {
	t.Helper()
	fs := flag.NewFlagSet("kusciatask-controller", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	o, err := parseFlags(fs, args)
	return o, out.String(), err
}

func TestFlagDefaults(t *testing.T) {
	t.Setenv("KUBECONFIG", "/tmp/kubeconfig")
	t.Setenv("POD_NAMESPACE", "")
	o, _, err := parse(t)
	require.NoError(t, err)
	assert.Equal(t, options{
		kubeconfig:             "/tmp/kubeconfig",
		workers:                4,
		qps:                    100,
		burst:                  200,
		resync:                 10 * time.Minute,
		leaderElectNamespace:   ownNamespace(os.Getenv, os.ReadFile),
		leaderElectID:          "kusciatask-controller",
		metricsBindAddress:     ":8080",
		healthProbeBindAddress: ":8081",
	}, o)
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantOut string
	}{
		{[]string{"--workers=0"}, "--workers must be at least 1"},
		{[]string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"extra"}, `unexpected arguments "extra"`},
	}
	for _, tt := range tests {
		_, out, err := parse(t, tt.args...)
		assert.Error(t, err, tt.args)
		assert.Contains(t, out, tt.wantOut)
	}
	_, out, err := parse(t, "-h")
	assert.True(t, errors.Is(err, errHelp))
	assert.Contains(t, out, "Usage:")
	assert.Contains(t, out, "-version")
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
