// Tests of the version verb: the plugin's build and the API server's.

package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	k8sversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	fakediscovery "k8s.io/client-go/discovery/fake"

	"kusciatask.io/controller/pkg/version"
)

func TestVersion(t *testing.T) {
	e := newEnv(nil)
	e.kube.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &k8sversion.Info{GitVersion: "v1.37.2"}
	client := "Client Version: " + version.Get().String() + "\n"

	out, _, err := e.run(context.Background(), "version")
	require.NoError(t, err)
	assert.Equal(t, client+"Server Version: v1.37.2\n", out)

	out, _, err = e.run(context.Background(), "version", "--client")
	require.NoError(t, err)
	assert.Equal(t, client, out)

	out, _, err = e.run(context.Background(), "version", "-o", "json")
	require.NoError(t, err)
	var got versions
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, version.Get(), got.ClientVersion)
	assert.Equal(t, "v1.37.2", got.ServerVersion.GitVersion)

	_, _, err = e.run(context.Background(), "version", "-o", "wide")
	assert.Equal(t, ExitError, ExitCode(err))
}

// No cluster: the client's version is printed, then the error (exit 3).
func TestVersionWithoutCluster(t *testing.T) {
	var out lockedBuffer
	d := deps{clients: func() (*Clients, error) {
		return nil, &CodedError{Code: ExitError, Err: errors.New("connection refused")}
	}}
	o := &versionOptions{streams: genericiooptions.IOStreams{Out: &out, ErrOut: &out}, deps: d}
	err := o.run(context.Background())
	assert.Equal(t, ExitError, ExitCode(err))
	assert.ErrorContains(t, err, "connection refused")
	assert.Equal(t, "Client Version: "+version.Get().String()+"\n", out.String())
}

// TestEveryVerbsHelpHasGroupedFlags: each verb's --help lists its flags in
// sections (the connection flags last), every flag with its default.
func TestEveryVerbsHelpHasGroupedFlags(t *testing.T) {
	for _, verb := range []string{"get", "logs", "wait", "events", "validate", "version"} {
		t.Run(verb, func(t *testing.T) {
			out, _, err := newEnv(nil).run(context.Background(), verb, "--help")
			require.NoError(t, err)
			require.Contains(t, out, "\nFlags:\n")
			require.Contains(t, out, "\nConnection flags:\n")
			assert.Less(t, strings.Index(out, "\nFlags:\n"), strings.Index(out, "\nConnection flags:\n"))
			for _, line := range strings.Split(out[strings.Index(out, "\nFlags:\n"):], "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "-") && !strings.Contains(line, "--help") {
					assert.Contains(t, line, "efault", "every flag says its default: %q", line)
				}
			}
		})
	}
	out, _, err := newEnv(nil).run(context.Background(), "validate", "--help")
	require.NoError(t, err)
	for _, section := range []string{"Input flags:", "Controller policy flags:", "Output flags:"} {
		assert.Contains(t, out, "\n"+section+"\n")
	}
}
