package builder

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kusciatask.io/controller/examples"
	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// fuzzPolicy keeps each fuzz input cheap: small bounds, so the fuzzer
// spends its time on shapes, not on big builds.
var fuzzPolicy = Policy{
	MaxReplicasPerParty: 8,
	MaxPodsPerTask:      16,
	Render:              RenderLimits{MaxSteps: 5_000, MaxBytes: 4 << 20, Timeout: time.Second},
}

// fuzzInputs makes a domain of every party's namespace that is a valid
// name, labelled as the fuzzer asks, and holds img under its own name and
// under every party's appImageRef.
func fuzzInputs(task *kusciav1alpha1.KusciaTask, img *kusciav1alpha1.AppImage, nsLabels map[string]string) Inputs {
	in := Inputs{AppImages: map[string]*kusciav1alpha1.AppImage{img.Name: img}, Namespaces: map[string]*corev1.Namespace{}, Policy: fuzzPolicy}
	for _, p := range task.Spec.Parties {
		in.AppImages[p.AppImageRef] = img
		if len(validation.IsDNS1123Label(p.DomainID)) > 0 {
			continue
		}
		labels := map[string]string{kusciav1alpha1.LabelDomain: p.DomainID}
		for k, v := range nsLabels {
			labels[k] = v
		}
		in.Namespaces[p.DomainID] = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.DomainID, Labels: labels}}
	}
	return in
}

// planAndBuild plans and builds a task as the controller does. It fails the
// test on a panic, on an error that is not an *InputError, and on any
// built object Kubernetes would refuse for its names, labels or size.
func planAndBuild(t *testing.T, task *kusciav1alpha1.KusciaTask, in Inputs) {
	t.Helper()
	plan, err := PlanTask(task, in)
	if err == nil {
		var parties []*PartyObjects
		if parties, err = BuildTask(context.Background(), task, plan, 1); err == nil {
			checkBuilt(t, plan, parties)
			return
		}
	}
	if _, ok := AsInputError(err); !ok {
		t.Fatalf("not an InputError: %v", err)
	}
}

// checkBuilt validates names, namespaces, labels, annotations, hostnames,
// selectors, config map keys and sizes of every built object.
func checkBuilt(t *testing.T, plan *TaskPlan, parties []*PartyObjects) {
	t.Helper()
	var errs field.ErrorList
	meta := func(kind string, m metav1.ObjectMeta, name apivalidation.ValidateNameFunc) {
		path := field.NewPath(kind, m.Namespace, m.Name)
		for _, msg := range name(m.Name, false) {
			errs = append(errs, field.Invalid(path.Child("name"), m.Name, msg))
		}
		for _, msg := range validation.IsDNS1123Label(m.Namespace) {
			errs = append(errs, field.Invalid(path.Child("namespace"), m.Namespace, msg))
		}
		errs = append(errs, metav1validation.ValidateLabels(m.Labels, path.Child("labels"))...)
		errs = append(errs, apivalidation.ValidateAnnotations(m.Annotations, path.Child("annotations"))...)
	}
	pods := 0
	for _, objs := range parties {
		for _, p := range objs.Pods {
			pods++
			meta("pod", p.ObjectMeta, apivalidation.NameIsDNSSubdomain)
			for _, msg := range validation.IsDNS1123Label(p.Spec.Hostname) {
				errs = append(errs, field.Invalid(field.NewPath("pod", p.Name, "hostname"), p.Spec.Hostname, msg))
			}
			for _, c := range p.Spec.Containers {
				for _, msg := range validation.IsDNS1123Label(c.Name) {
					errs = append(errs, field.Invalid(field.NewPath("pod", p.Name, "container"), c.Name, msg))
				}
				for _, port := range c.Ports {
					for _, msg := range validation.IsValidPortName(port.Name) {
						errs = append(errs, field.Invalid(field.NewPath("pod", p.Name, "port"), port.Name, msg))
					}
				}
			}
		}
		for _, s := range objs.Services {
			meta("service", s.ObjectMeta, apivalidation.NameIsDNS1035Label)
			errs = append(errs, metav1validation.ValidateLabels(s.Spec.Selector, field.NewPath("service", s.Name, "selector"))...)
		}
		for _, cm := range objs.ConfigMaps {
			meta("configmap", cm.ObjectMeta, apivalidation.NameIsDNSSubdomain)
			size := 0
			for k, v := range cm.Data {
				size += len(v)
				for _, msg := range validation.IsConfigMapKey(k) {
					errs = append(errs, field.Invalid(field.NewPath("configmap", cm.Name, "data"), k, msg))
				}
			}
			if size > MaxConfigMapBytes {
				errs = append(errs, field.TooLong(field.NewPath("configmap", cm.Name, "data"), "", MaxConfigMapBytes))
			}
		}
	}
	if pods > plan.Policy.MaxPodsPerTask {
		errs = append(errs, field.TooMany(field.NewPath("pods"), pods, plan.Policy.MaxPodsPerTask))
	}
	if len(errs) > 0 {
		t.Fatalf("built objects Kubernetes would refuse: %v", errs.ToAggregate())
	}
}

// exampleJSON is an example file as JSON, for seeds.
func exampleJSON(f *testing.F, file string, obj any) []byte {
	f.Helper()
	if err := examples.Decode(file, obj); err != nil {
		f.Fatal(err)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzBuildTask: any task and AppImage (as JSON), in domains with any pod
// security and secret labels, is either refused with an InputError or
// built into objects Kubernetes accepts.
func FuzzBuildTask(f *testing.F) {
	psi := exampleJSON(f, examples.PSITaskFile, &kusciav1alpha1.KusciaTask{})
	tmpl := exampleJSON(f, examples.TemplateTaskFile, &kusciav1alpha1.KusciaTask{})
	sfImage := exampleJSON(f, examples.SecretflowImageFile, &kusciav1alpha1.AppImage{})
	appImage := exampleJSON(f, examples.AppTemplateImageFile, &kusciav1alpha1.AppImage{})
	f.Add(psi, sfImage, "", "")
	f.Add(tmpl, appImage, "restricted", "")
	f.Add(psi, appImage, "baseline", "true")
	f.Add(tmpl, sfImage, "nonsense", "false")
	f.Fuzz(func(t *testing.T, taskJSON, imageJSON []byte, enforce, allowSecrets string) {
		task, img := &kusciav1alpha1.KusciaTask{}, &kusciav1alpha1.AppImage{}
		if json.Unmarshal(taskJSON, task) != nil || json.Unmarshal(imageJSON, img) != nil {
			t.Skip("not a task and an AppImage")
		}
		task.UID = types.UID("6a0e3b4c-0000-4000-8000-000000000001")
		planAndBuild(t, task, fuzzInputs(task, img, map[string]string{
			"pod-security.kubernetes.io/enforce": enforce,
			kusciav1alpha1.LabelAllowSecretRefs:  allowSecrets,
		}))
	})
}

// FuzzBuildNames drives the strings that end up in names, labels, keys and
// hostnames of a two-party task directly.
func FuzzBuildNames(f *testing.F) {
	f.Add("secretflow-task-psi", "alice", "bob", "", "secretflow", "fed", "task-config.conf", uint8(1))
	f.Add(strings.Repeat("long.task.", 25), "a", "b", "host", "c", "global", "x.json", uint8(3))
	f.Add("Upper.Case", "alice", "alice", "Role!", "Bad_Name", "8080", "../up", uint8(0))
	f.Fuzz(func(t *testing.T, taskName, domainA, domainB, role, container, port, configFile string, replicas uint8) {
		img := &kusciav1alpha1.AppImage{}
		img.Name = "img"
		img.Spec.Image.Name = "repo/app"
		img.Spec.ConfigTemplates = map[string]string{configFile: "{{.TASK_CLUSTER_DEFINE}}"}
		img.Spec.DeployTemplates = []kusciav1alpha1.DeployTemplate{{
			Role:     role,
			Replicas: ptrInt32(int32(replicas % 10)),
			Spec: kusciav1alpha1.PodSpec{Containers: []kusciav1alpha1.Container{{
				Name:               container,
				Ports:              []kusciav1alpha1.ContainerPort{{Name: port, Port: 80, Scope: kusciav1alpha1.ScopeCluster}},
				ConfigVolumeMounts: []kusciav1alpha1.ConfigVolumeMount{{MountPath: "/etc/" + configFile, SubPath: configFile}},
			}}},
		}}
		task := &kusciav1alpha1.KusciaTask{ObjectMeta: metav1.ObjectMeta{Name: taskName, UID: "uid-1"}}
		task.Spec.Initiator = domainA
		task.Spec.Parties = []kusciav1alpha1.PartyInfo{
			{DomainID: domainA, AppImageRef: "img", Role: role},
			{DomainID: domainB, AppImageRef: "img", Role: role},
		}
		planAndBuild(t, task, fuzzInputs(task, img, nil))
	})
}

func ptrInt32(v int32) *int32 { return &v }

// runaway is far past the render budget even on a loaded machine: a build
// that takes longer was not stopped by its budget.
const runaway = time.Minute

// FuzzRenderConfig: any config template over any input either renders
// within the bounds or fails the task with ConfigRenderFailed; never a
// panic, never a runaway.
func FuzzRenderConfig(f *testing.F) {
	for _, seed := range []string{
		`{"task_id": "{{.TASK_ID}}", "input": {{json .TASK_INPUT_CONFIG}}, "cluster": {{.TASK_CLUSTER_DEFINE}}}`,
		`{{range 2000000000}}{{end}}`,
		`{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}`,
		`{{range 100000}}{{$.TASK_INPUT_CONFIG}}{{end}}`,
		`{{printf "%0999999999d" 1}}`,
		`{{$x := .TASK_INPUT_CONFIG}}{{range 64}}{{$x = print $x $x}}{{end}}`,
		`{{range $i := 3}}{{if eq $i 1}}{{continue}}{{end}}{{$i}}{{end}}`,
	} {
		f.Add(seed, `{"a": 1}`)
	}
	f.Fuzz(func(t *testing.T, text, input string) {
		task := &kusciav1alpha1.KusciaTask{ObjectMeta: metav1.ObjectMeta{Name: "t", UID: "uid-1"}}
		task.Spec.Initiator = "alice"
		task.Spec.TaskInputConfig = input
		task.Spec.Parties = []kusciav1alpha1.PartyInfo{{DomainID: "alice", AppImageRef: "img"}, {DomainID: "bob", AppImageRef: "img"}}
		img := &kusciav1alpha1.AppImage{}
		img.Name = "img"
		img.Spec.Image.Name = "repo/app"
		img.Spec.ConfigTemplates = map[string]string{DefaultConfigFile: text}
		img.Spec.DeployTemplates = []kusciav1alpha1.DeployTemplate{{Spec: kusciav1alpha1.PodSpec{
			Containers: []kusciav1alpha1.Container{{Name: "app"}},
		}}}
		in := fuzzInputs(task, img, nil)
		plan, err := PlanTask(task, in)
		if err != nil {
			return // the input itself is refused (too long, say)
		}
		start := time.Now()
		parties, err := BuildTask(context.Background(), task, plan, 1)
		if elapsed := time.Since(start); elapsed > runaway {
			t.Fatalf("rendering took %s; its budget is %s", elapsed, fuzzPolicy.Render.Timeout)
		}
		if err != nil {
			ie, ok := AsInputError(err)
			if !ok || ie.Reason != kusciav1alpha1.ReasonConfigRenderFailed {
				t.Fatalf("want ConfigRenderFailed, got %v", err)
			}
			return
		}
		checkBuilt(t, plan, parties)
	})
}
