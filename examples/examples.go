// Package examples embeds the example manifests of this folder, so tests
// across the project decode exactly the YAML users apply, strictly (a field
// the API does not declare fails).
package examples

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// The example files.
const (
	PSITaskFile          = "secretflow-task-psi.yaml"
	TemplateTaskFile     = "task-template.yaml"
	SecretflowImageFile  = "appimage-secretflow.yaml"
	AppTemplateImageFile = "appimage-app-template.yaml"
	DomainsFile          = "domains.yaml"
	// TestAppImageFile is the AppImage of the test application, for real
	// nodes (`make image` builds its image).
	TestAppImageFile = "realnode/appimage-testapp.yaml"
)

//go:embed *.yaml realnode/*.yaml
var files embed.FS

// FailsValidate are the examples written to fail `kubectl kuscia validate`
// (they show what it says); every other example task must pass it.
var FailsValidate = []string{"three-mistakes.yaml"}

// Files are the example files, as paths of this folder: those holding a
// KusciaTask, and the others (the AppImages and domains the tasks use).
func Files() (tasks, inputs []string, err error) {
	kindTask := regexp.MustCompile(`(?m)^kind: KusciaTask$`)
	err = fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read example %s: %w", path, err)
		}
		if kindTask.Match(data) {
			tasks = append(tasks, path)
		} else {
			inputs = append(inputs, path)
		}
		return nil
	})
	return tasks, inputs, err
}

// Decode strictly decodes a single-document example file into obj.
func Decode(file string, obj any) error {
	data, err := files.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read example %s: %w", file, err)
	}
	if err := utilyaml.UnmarshalStrict(data, obj); err != nil {
		return fmt.Errorf("decode example %s: %w", file, err)
	}
	return nil
}

// Task decodes an example task as the API server would store it on create:
// with a UID (uid-<name>) and without the status block the seed page shows.
func Task(file string) (*kusciav1alpha1.KusciaTask, error) {
	task := &kusciav1alpha1.KusciaTask{}
	if err := Decode(file, task); err != nil {
		return nil, err
	}
	task.UID = types.UID("uid-" + task.Name)
	task.Status = kusciav1alpha1.KusciaTaskStatus{}
	return task, nil
}

// AppImage decodes an example AppImage.
func AppImage(file string) (*kusciav1alpha1.AppImage, error) {
	img := &kusciav1alpha1.AppImage{}
	return img, Decode(file, img)
}

// AppImages decodes both example AppImages, by name.
func AppImages() (map[string]*kusciav1alpha1.AppImage, error) {
	out := map[string]*kusciav1alpha1.AppImage{}
	for _, file := range []string{SecretflowImageFile, AppTemplateImageFile} {
		img, err := AppImage(file)
		if err != nil {
			return nil, err
		}
		out[img.Name] = img
	}
	return out, nil
}

// Domains decodes the namespaces of domains.yaml (a multi-document file
// that also holds a ConfigMap), by name.
func Domains() (map[string]*corev1.Namespace, error) {
	data, err := files.ReadFile(DomainsFile)
	if err != nil {
		return nil, fmt.Errorf("read example %s: %w", DomainsFile, err)
	}
	out := map[string]*corev1.Namespace{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", DomainsFile, err)
		}
		var head struct {
			Kind string `json:"kind"`
		}
		if err := utilyaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("decode %s: %w", DomainsFile, err)
		}
		if head.Kind != "Namespace" {
			continue
		}
		ns := &corev1.Namespace{}
		if err := utilyaml.UnmarshalStrict(doc, ns); err != nil {
			return nil, fmt.Errorf("decode %s: %w", DomainsFile, err)
		}
		out[ns.Name] = ns
	}
}
