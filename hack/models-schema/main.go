// Command models-schema prints the OpenAPI v2 definitions generated in
// pkg/generated/openapi as JSON. hack/update-codegen.sh feeds them to
// applyconfiguration-gen, which is what makes the field-tracking fake
// clientset (fake.NewClientset) work for our types.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"kusciatask.io/controller/pkg/generated/openapi"
)

func main() {
	if err := printModels(); err != nil {
		fmt.Fprintf(os.Stderr, "models-schema: %v\n", err)
		os.Exit(1)
	}
}

func printModels() error {
	ref := func(name string) spec.Ref { return spec.MustCreateRef("#/definitions/" + name) }
	defs := openapi.GetOpenAPIDefinitions(ref)
	schemas := make(map[string]spec.Schema, len(defs))
	for name, def := range defs {
		// Prefer an embedded v2 schema so the output is always OpenAPI v2.
		if v2, ok := def.Schema.Extensions[common.ExtensionV2Schema].(spec.Schema); ok {
			schemas[name] = v2
			continue
		}
		schemas[name] = def.Schema
	}
	data, err := json.Marshal(&spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Definitions: schemas,
		Info:        &spec.Info{InfoProps: spec.InfoProps{Title: "kusciatask-controller", Version: "unversioned"}},
	}})
	if err != nil {
		return fmt.Errorf("serialize definitions: %w", err)
	}
	_, err = os.Stdout.Write(data)
	return err
}
