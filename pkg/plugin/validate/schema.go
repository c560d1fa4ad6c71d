package validate

// This file holds the embedded CRDs' schemas as kube-apiserver runs them on
// a create, for validate offline: defaults, the OpenAPI schema, the CEL
// rules, on the document decoded as the API server decodes it.

import (
	"context"
	"fmt"
	"slices"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"kusciatask.io/controller/crds"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// crdSchema is the schema of one CRD version as kube-apiserver runs it on
// a create: defaults, then the OpenAPI schema, then the CEL rules.
type crdSchema struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// schemas are the embedded CRDs' schemas by kind, loaded once.
var schemas = sync.OnceValues(func() (map[string]*crdSchema, error) {
	out := map[string]*crdSchema{}
	for kind, file := range map[string]string{kindTask: crds.KusciaTaskFile, kindAppImage: crds.AppImageFile} {
		s, err := loadSchema(file)
		if err != nil {
			return nil, err
		}
		out[kind] = s
	}
	return out, nil
})

// loadSchema reads the v1alpha1 schema of an embedded CRD.
func loadSchema(file string) (*crdSchema, error) {
	data, err := crds.Files.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CRD %s: %w", file, err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		return nil, fmt.Errorf("decode CRD %s: %w", file, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != kusciav1alpha1.SchemeGroupVersion.Version || v.Schema == nil {
			continue
		}
		var internal apiextensionsinternal.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			return nil, fmt.Errorf("convert the schema of CRD %s: %w", file, err)
		}
		structural, err := structuralschema.NewStructural(&internal)
		if err != nil {
			return nil, fmt.Errorf("structural schema of CRD %s: %w", file, err)
		}
		openAPI, _, err := apiservervalidation.NewSchemaValidator(&internal)
		if err != nil {
			return nil, fmt.Errorf("schema validator of CRD %s: %w", file, err)
		}
		return &crdSchema{structural: structural, openAPI: openAPI, cel: cel.NewValidator(structural, true, celconfig.PerCallLimit)}, nil
	}
	return nil, fmt.Errorf("CRD %s has no schema for %s", file, kusciav1alpha1.SchemeGroupVersion.Version)
}

// validate runs the schema on a document (its JSON as maps), as the API
// server would on a create. The CEL rules see the values typed by the
// schema: with a value of the wrong type they cannot run, and celSkipped
// says so.
func (s *crdSchema) validate(ctx context.Context, obj map[string]any) (errs field.ErrorList, celSkipped bool) {
	defaulting.Default(obj, s.structural)
	errs = apiservervalidation.ValidateCustomResource(nil, obj, s.openAPI)
	if slices.ContainsFunc(errs, func(e *field.Error) bool { return e.Type == field.ErrorTypeTypeInvalid }) {
		return errs, true
	}
	celErrs, _ := s.cel.Validate(ctx, nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...), false
}

// schemaErrors checks a KusciaTask or AppImage document against its CRD's
// schema offline; other kinds have none.
// celSkipped: a value of the wrong type kept the CEL rules from running.
func schemaErrors(ctx context.Context, kind string, doc document) (errs field.ErrorList, celSkipped bool, err error) {
	all, err := schemas()
	if err != nil {
		return nil, false, err
	}
	s, ok := all[kind]
	if !ok {
		return nil, false, nil
	}
	obj, err := unstructuredDocument(doc)
	if err != nil {
		return nil, false, err
	}
	errs, celSkipped = s.validate(ctx, obj)
	return errs, celSkipped, nil
}

// unstructuredDocument is a document as the API server holds a custom
// resource it decoded: JSON maps whose whole numbers are int64 and the
// others float64. The CEL rules see the values typed by the structural
// schema, and an integer field must hold an int64 (a float64 2 is "expected
// int, got float64"), so a plain YAML decode, all float64, would break every
// rule on an integer.
func unstructuredDocument(doc document) (map[string]any, error) {
	var obj map[string]any
	if err := utilyaml.Unmarshal(doc.data, &obj); err != nil {
		return nil, fmt.Errorf("%s is not YAML: %w", doc.where, err)
	}
	return obj, nil
}
