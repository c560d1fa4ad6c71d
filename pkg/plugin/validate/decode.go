package validate

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
	task  *kusciav1alpha1.KusciaTask
	where string
	// problems of its own document (unknown fields).
	problems []Problem
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
	obj, _, err := strictDecoder.Decode(doc.data, nil, nil)
	var strictProblems []Problem
	if strict, ok := runtime.AsStrictDecodingError(err); ok {
		for _, e := range strict.Errors() {
			strictProblems = append(strictProblems, Problem{Reason: ReasonSchema, Message: fmt.Sprintf("%s: %v", doc.where, e)})
		}
	} else if err != nil {
		in.problems = append(in.problems, Problem{Reason: ReasonSchema, Message: fmt.Sprintf("%s: %v", doc.where, err)})
		return nil
	}
	if meta.Kind == kindAppImage || (meta.Kind == kindTask && in.schemaTasks) {
		problems, err := schemaProblems(ctx, meta.Kind, doc)
		if err != nil {
			return err
		}
		strictProblems = append(strictProblems, problems...)
	}
	switch o := obj.(type) {
	case *kusciav1alpha1.KusciaTask:
		in.tasks = append(in.tasks, sourcedTask{task: o, where: doc.where, problems: strictProblems})
		return nil
	case *kusciav1alpha1.AppImage:
		in.appImages[o.Name] = o
	case *corev1.Namespace:
		in.namespaces[o.Name] = o
	}
	in.problems = append(in.problems, strictProblems...)
	return nil
}

// isComment tells a document of comments only.
func isComment(data []byte) bool {
	var v any
	return yaml.Unmarshal(data, &v) == nil && v == nil
}
