package validate

// This file holds how validate reads its input files: YAML documents of
// KusciaTasks, AppImages and namespaces, decoded strictly, each problem of
// a document with the path of its field.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	serializerjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// decodeScheme knows the kinds validate reads from files.
var decodeScheme = newDecodeScheme()

func newDecodeScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := kusciav1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := corev1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// strictDecoder decodes YAML or JSON and reports every field the API does
// not declare (and every duplicate field), not only the first.
var strictDecoder = serializerjson.NewSerializerWithOptions(serializerjson.DefaultMetaFactory, decodeScheme, decodeScheme,
	serializerjson.SerializerOptions{Yaml: true, Strict: true})

// document is one YAML document of an input file.
type document struct {
	// where names it for messages: "file" or "file (document 2)".
	where string
	data  []byte
}

// inputs are what the files hold.
type inputs struct {
	tasks      []sourcedTask
	appImages  map[string]*kusciav1alpha1.AppImage
	namespaces map[string]*corev1.Namespace
	// problems are documents that do not decode as the API declares them.
	problems []Problem
	// notes are documents skipped.
	notes []string
	// schemaTasks: tasks are checked against the CRD schema offline.
	schemaTasks bool
}

// sourcedTask is a task and the document it came from.
type sourcedTask struct {
	// task is nil when the document does not decode as a KusciaTask at
	// all; its problems say why.
	task        *kusciav1alpha1.KusciaTask
	name, where string
	// problems of its own document: its schema, unknown fields.
	problems []Problem
	// schemaRejected: the CRD's schema, run offline, found problems; the
	// builder's repeats of its rules are then not listed again.
	schemaRejected bool
	notes          []string
}

// readInputs reads every file: -f may hold tasks, AppImages and
// namespaces; --appimage-file and --domain-file what their names say. An
// error is a file that cannot be read or is not YAML (exit code 2); a
// document that breaks the API's schema is a Problem. The CRD schema runs
// offline on AppImages, and on tasks when schemaTasks (without a cluster,
// whose dry run of the task runs its own).
func readInputs(ctx context.Context, stdin io.Reader, taskFiles, imageFiles, domainFiles []string, schemaTasks bool) (*inputs, error) {
	in := &inputs{appImages: map[string]*kusciav1alpha1.AppImage{}, namespaces: map[string]*corev1.Namespace{},
		schemaTasks: schemaTasks}
	for _, set := range []struct {
		files []string
		kinds []string
	}{
		{taskFiles, []string{kindTask, kindAppImage, kindNamespace}},
		{imageFiles, []string{kindAppImage}},
		{domainFiles, []string{kindNamespace}},
	} {
		for _, file := range set.files {
			docs, err := readDocuments(stdin, file)
			if err != nil {
				return nil, err
			}
			for _, doc := range docs {
				if err := in.add(ctx, doc, set.kinds); err != nil {
					return nil, err
				}
			}
		}
	}
	return in, nil
}

// The kinds validate reads.
const (
	kindTask      = "KusciaTask"
	kindAppImage  = "AppImage"
	kindNamespace = "Namespace"
)

// readDocuments splits a file ("-" is stdin) into its YAML documents.
func readDocuments(stdin io.Reader, file string) ([]document, error) {
	var r io.Reader = stdin
	name := "stdin"
	if file != "-" {
		name = file
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		defer f.Close()
		r = f
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs []document
	for n := 1; ; n++ {
		data, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		docs = append(docs, document{where: fmt.Sprintf("%s (document %d)", name, n), data: data})
	}
	for i := range docs {
		if len(docs) == 1 {
			docs[i].where = name
		}
	}
	return docs, nil
}

// add decodes one document of one of the kinds.
func (in *inputs) add(ctx context.Context, doc document, kinds []string) error {
	var meta struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc.data, &meta); err != nil {
		return fmt.Errorf("%s is not YAML: %w", doc.where, err)
	}
	if meta.Kind == "" && isComment(doc.data) {
		return nil
	}
	if !slices.Contains(kinds, meta.Kind) || (meta.GroupVersionKind().Group != kusciav1alpha1.GroupName && meta.Kind != kindNamespace) {
		in.notes = append(in.notes, fmt.Sprintf("%s: skipped %s %s %s (this flag reads %v)", doc.where, meta.APIVersion, meta.Kind, meta.Metadata.Name, kinds))
		return nil
	}
	d := decoded{problems: unsupportedVersion(meta.TypeMeta)}
	if len(d.problems) == 0 {
		var err error
		if d, err = decodeDocument(ctx, doc, meta.Kind, meta.Kind == kindAppImage || in.schemaTasks); err != nil {
			return err
		}
	}
	if meta.Kind == kindTask {
		task, _ := d.obj.(*kusciav1alpha1.KusciaTask)
		in.tasks = append(in.tasks, sourcedTask{task: task, name: meta.Metadata.Name, where: doc.where,
			problems: d.problems, schemaRejected: d.schemaRejected, notes: d.notes})
		return nil
	}
	switch o := d.obj.(type) {
	case *kusciav1alpha1.AppImage:
		in.appImages[o.Name] = o
	case *corev1.Namespace:
		in.namespaces[o.Name] = o
	}
	for _, p := range d.problems {
		in.problems = append(in.problems, Problem{Reason: p.Reason, Message: doc.where + ": " + p.Message})
	}
	for _, n := range d.notes {
		in.notes = append(in.notes, doc.where+": "+n)
	}
	return nil
}

// unsupportedVersion is the problem of a document whose apiVersion is not
// the one version of its kind validate knows.
func unsupportedVersion(tm metav1.TypeMeta) []Problem {
	want := kusciav1alpha1.SchemeGroupVersion
	if tm.Kind == kindNamespace {
		want = corev1.SchemeGroupVersion
	}
	if tm.APIVersion == want.String() {
		return nil
	}
	return []Problem{{Reason: ReasonSchema, Message: field.NotSupported(field.NewPath("apiVersion"), tm.APIVersion, []string{want.String()}).Error()}}
}

// decoded is one document decoded: the object (nil when it does not
// decode at all) and its problems, each with its field path.
type decoded struct {
	obj      runtime.Object
	problems []Problem
	// schemaRejected: the CRD's schema ran and found problems.
	schemaRejected bool
	notes          []string
}

// decodeDocument decodes a document of a kind strictly. With runSchema its
// CRD's schema runs on it, as the API server would run it. A value the
// typed API cannot hold is reported by the field the schema names, and
// the rest of the document is decoded without it; the schema runs for
// that even without runSchema, and then reports only those fields.
func decodeDocument(ctx context.Context, doc document, kind string, runSchema bool) (decoded, error) {
	obj, strict, decodeErr := decodeStrict(doc.data)
	if !runSchema && decodeErr == nil {
		return decoded{obj: obj, problems: schemaViolations(strict, nil)}, nil
	}
	schemaErrs, celSkipped, err := schemaErrors(ctx, kind, doc)
	if err != nil {
		return decoded{}, err
	}
	d := decoded{obj: obj, schemaRejected: runSchema && len(schemaErrs) > 0}
	if celSkipped && runSchema {
		d.notes = append(d.notes, "the CRD's CEL rules were not checked: a value of the wrong type keeps them from running; fix it and validate again")
	}
	reported := schemaErrs
	if decodeErr != nil {
		var removed field.ErrorList
		if d.obj, strict, removed, err = decodePruned(doc, schemaErrs); err != nil {
			d.problems = []Problem{{Reason: ReasonSchema, Message: decodeErr.Error()}}
			return d, nil
		}
		if !runSchema {
			reported = removed
		}
	}
	d.problems = schemaViolations(strict, reported)
	return d, nil
}

// schemaViolations are the problems of fields the API does not declare
// and of the schema's errors.
func schemaViolations(strict []error, errs field.ErrorList) []Problem {
	var out []Problem
	for _, e := range strict {
		out = append(out, Problem{Reason: ReasonSchema, Message: e.Error()})
	}
	for _, e := range errs {
		out = append(out, Problem{Reason: ReasonSchema, Message: e.Error()})
	}
	return out
}

// decodeStrict decodes YAML or JSON into its typed object; strict are the
// fields the API does not declare (the object decodes nonetheless), err is
// a document that does not decode.
func decodeStrict(data []byte) (runtime.Object, []error, error) {
	obj, _, err := strictDecoder.Decode(data, nil, nil)
	if strict, ok := runtime.AsStrictDecodingError(err); ok {
		return obj, strict.Errors(), nil
	}
	if err != nil {
		return nil, nil, err
	}
	return obj, nil, nil
}

// isComment tells a document of comments only.
func isComment(data []byte) bool {
	var v any
	return yaml.Unmarshal(data, &v) == nil && v == nil
}
