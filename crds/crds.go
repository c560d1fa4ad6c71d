// Package crds embeds the CRD manifests hack/update-crds.sh generates from
// the types in pkg/apis, so tools can check objects against the very schema
// (OpenAPI and CEL rules) the API server enforces, and the admission policy
// shipped beside them.
package crds

import "embed"

// The CRD manifests, and the admission policy installed with them.
const (
	KusciaTaskFile = "kuscia.secretflow_kusciatasks.yaml"
	AppImageFile   = "kuscia.secretflow_appimages.yaml"
	// PolicyFile holds the ValidatingAdmissionPolicy that lets only the
	// controller write a task's children and status, its binding and its
	// parameter (hand-written, not generated).
	PolicyFile = "kusciatask-controller-policy.yaml"
)

// Files holds the manifests of this folder.
//
//go:embed *.yaml
var Files embed.FS
