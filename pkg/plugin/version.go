// The version verb: the plugin's build (pkg/version) and the version of
// the cluster's API server, as kubectl version prints them.

package plugin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	k8sversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"kusciatask.io/controller/pkg/version"
)

const versionExample = `  # The plugin's version and the API server's
  kubectl kuscia version

  # The plugin's only, without a cluster
  kubectl kuscia version --client

  # Both, for scripts
  kubectl kuscia version -o json`

// versions is what -o json|yaml prints.
type versions struct {
	ClientVersion version.Info     `json:"clientVersion"`
	ServerVersion *k8sversion.Info `json:"serverVersion,omitempty"`
}

type versionOptions struct {
	client  bool
	output  string
	streams genericiooptions.IOStreams
	deps
}

func newVersionCommand(streams genericiooptions.IOStreams, d deps) *cobra.Command {
	o := &versionOptions{streams: streams, deps: d}
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the plugin's version and the cluster's",
		Example: versionExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.client, "client", false, "Only the plugin's version; the cluster is not asked.")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format: json or yaml. Default: one line each.")
	return cmd
}

// run prints the client's version, then asks the server; a server that
// does not answer is an error after the client's version is printed.
func (o *versionOptions) run(ctx context.Context) error {
	if o.output != "" && o.output != "json" && o.output != "yaml" {
		return usageError("unknown output format %q: use json or yaml", o.output)
	}
	v := versions{ClientVersion: version.Get()}
	var serverErr error
	if !o.client {
		v.ServerVersion, serverErr = o.serverVersion(ctx)
	}
	if err := o.print(v); err != nil {
		return err
	}
	return serverErr
}

// serverVersion asks the API server's /version.
func (o *versionOptions) serverVersion(ctx context.Context) (*k8sversion.Info, error) {
	c, err := o.clients()
	if err != nil {
		return nil, err
	}
	info, err := c.Kube.Discovery().ServerVersion()
	if err != nil {
		return nil, &CodedError{Code: ExitError, Err: fmt.Errorf("getting the server's version: %w", err)}
	}
	return info, ctx.Err()
}

func (o *versionOptions) print(v versions) error {
	var b []byte
	var err error
	switch o.output {
	case "json":
		b, err = json.MarshalIndent(v, "", "  ")
		b = append(b, '\n')
	case "yaml":
		b, err = yaml.Marshal(v)
	default:
		b = []byte("Client Version: " + v.ClientVersion.String() + "\n")
		if v.ServerVersion != nil {
			b = append(b, "Server Version: "+v.ServerVersion.GitVersion+"\n"...)
		}
	}
	if err != nil {
		return fmt.Errorf("printing the versions: %w", err)
	}
	_, err = o.streams.Out.Write(b)
	return err
}
