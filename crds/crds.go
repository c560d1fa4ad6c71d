// Package crds embeds the CRD manifests hack/update-crds.sh generates from
// the types in pkg/apis, so tools can check objects against the very schema
// (OpenAPI and CEL rules) the API server enforces.
package crds

import "embed"

// The CRD manifests.
const (
	KusciaTaskFile = "kuscia.secretflow_kusciatasks.yaml"
	AppImageFile   = "kuscia.secretflow_appimages.yaml"
)

// Files holds the CRD manifests of this folder.
//
//go:embed *.yaml
var Files embed.FS
