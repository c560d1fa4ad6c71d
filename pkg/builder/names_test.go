package builder

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
)

// longTask is a task name as long as Kubernetes allows (a DNS subdomain).
var longTask = strings.Repeat("t", 253)

// longDottedTask is a 253-character subdomain with dots and digits.
var longDottedTask = strings.TrimSuffix(strings.Repeat("kuscia-task.v1.", 17), ".")[:253]

// longRole is a role as long as the CRD allows.
var longRole = strings.Repeat("r", 63)

// longPort is a port name as long as the CRD allows.
const longPort = "abcdefghijklmno"

// The long task names are names Kubernetes accepts for a KusciaTask.
func TestLongTaskNamesAreValidObjectNames(t *testing.T) {
	for _, name := range []string{longTask, longDottedTask} {
		assert.Len(t, name, 253)
		assert.Empty(t, validation.IsDNS1123Subdomain(name), name)
	}
}

func assertDNSLabel(t *testing.T, name string) {
	t.Helper()
	assert.Empty(t, validation.IsDNS1035Label(name), "%q is not a DNS-1035 label", name)
	assert.LessOrEqual(t, len(name), 63, "%q", name)
}

func TestNamesShortUnchanged(t *testing.T) {
	tests := []struct{ got, want string }{
		{PodName("secretflow-task-psi", "", 0), "secretflow-task-psi-0"},
		{PodName("secretflow-task-psi", "", 12), "secretflow-task-psi-12"},
		{PodName("task-template", "host", 0), "task-template-host-0"},
		{PodName("task-template", "guest", 2), "task-template-guest-2"},
		{ServiceName("secretflow-task-psi", "", 0, "fed"), "secretflow-task-psi-0-fed"},
		{ServiceName("secretflow-task-psi", "", 0, "global"), "secretflow-task-psi-0-global"},
		{ServiceName("task-template", "host", 1, "spu"), "task-template-host-1-spu"},
		{ConfigMapName("secretflow-task-psi", "", 0), "secretflow-task-psi-0-config"},
		{ConfigMapName("task-template", "guest", 0), "task-template-guest-0-config"},
		{TaskLabelValue("secretflow-task-psi"), "secretflow-task-psi"},
		{DNSLabel("a"), "a"},
		{DNSLabel(strings.Repeat("a", 63)), strings.Repeat("a", 63)},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.got)
	}
}

// Every name a task can produce is a DNS-1035 label, the same on every call
// (the controller finds its children by these names).
func TestNamesValidAndDeterministic(t *testing.T) {
	tasks := []string{
		"secretflow-task-psi", longTask, longDottedTask,
		"my.task", "My-Task", "1task", "9", "task_1", "a.b.c", "-", "x-", "task-template.v2",
		strings.Repeat("a", 62), strings.Repeat("a", 63), strings.Repeat("a", 64),
	}
	roles := []string{"", "host", longRole, "1st"}
	ports := []string{"fed", longPort, "node-manager", "1"}
	for _, task := range tasks {
		for _, role := range roles {
			for _, i := range []int{0, 1, 10, 999} {
				names := []string{PodName(task, role, i), ConfigMapName(task, role, i)}
				for _, port := range ports {
					names = append(names, ServiceName(task, role, i, port))
				}
				for _, n := range names {
					assertDNSLabel(t, n)
				}
				assert.Equal(t, names[0], PodName(task, role, i))
				assert.Equal(t, names[1], ConfigMapName(task, role, i))
				assert.Equal(t, names[2], ServiceName(task, role, i, ports[0]))
			}
		}
		label := TaskLabelValue(task)
		assert.Empty(t, validation.IsValidLabelValue(label), "label value %q", label)
		assert.Equal(t, label, TaskLabelValue(task))
	}
}

// Different replica indexes, ports and roles give different names, also when
// the names are cut.
func TestNamesUnique(t *testing.T) {
	for _, task := range []string{"secretflow-task-psi", longTask, longDottedTask, strings.Repeat("a", 58)} {
		t.Run(fmt.Sprintf("task of %d chars", len(task)), func(t *testing.T) {
			seen := map[string]string{}
			add := func(kind, name string) {
				t.Helper()
				if prev, ok := seen[kind+"/"+name]; ok {
					t.Errorf("%s name %q given twice: %s and now again", kind, name, prev)
				}
				seen[kind+"/"+name] = name
			}
			for _, role := range []string{"", "host", "guest", longRole, longRole[:62] + "s"} {
				for i := 0; i < 30; i++ {
					add("pod", PodName(task, role, i))
					add("configmap", ConfigMapName(task, role, i))
					for _, port := range []string{"spu", "fed", "global", longPort, longPort[:14] + "p"} {
						add("service", ServiceName(task, role, i, port))
					}
				}
			}
			assert.Len(t, seen, 5*30*(2+5))
		})
	}
}

// Long names are cut to 63 characters but keep a readable prefix of the
// original.
func TestNamesCutKeepPrefix(t *testing.T) {
	name := PodName(longTask, "host", 3)
	assert.Len(t, name, 63)
	assert.True(t, strings.HasPrefix(name, strings.Repeat("t", 40)), name)
	svc := ServiceName(longTask, longRole, 0, longPort)
	assert.Len(t, svc, 63)
	assert.NotEqual(t, PodName(longTask, longRole, 0), svc)
}

// Task names that are valid object names but not DNS-1035 labels are
// sanitised: dots, upper case and a leading digit.
func TestNamesSanitised(t *testing.T) {
	tests := []struct {
		task       string
		wantPrefix string
	}{
		{"my.task", "my-task-0"},
		{"Task", "task-0"},
		{"1task", "x1task-0"},
		{"task_v1", "task-v1-0"},
	}
	for _, tc := range tests {
		t.Run(tc.task, func(t *testing.T) {
			name := PodName(tc.task, "", 0)
			assertDNSLabel(t, name)
			assert.True(t, strings.HasPrefix(name, tc.wantPrefix+"-"), "%q should start with %q", name, tc.wantPrefix)
			assert.Equal(t, name, PodName(tc.task, "", 0))
			// The sanitised name does not collide with the name of the task
			// it was sanitised into.
			assert.NotEqual(t, PodName(strings.TrimSuffix(tc.wantPrefix, "-0"), "", 0), name)
		})
	}
	assert.NotEqual(t, PodName("a.b", "", 0), PodName("a-b", "", 0))
	assert.NotEqual(t, PodName("A-b", "", 0), PodName("a-B", "", 0))
}

func TestDNSLabel(t *testing.T) {
	tests := []struct {
		in        string
		unchanged bool
	}{
		{"abc", true},
		{"a-1", true},
		{"a", true},
		{"", false},
		{"-", false},
		{"---", false},
		{"1", false},
		{"a-", false},
		{"ABC", false},
		{"a.b", false},
		{"ä", false},
		{"\xff\xfe", false},
		{strings.Repeat("a", 64), false},
		{strings.Repeat("-", 200), false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got := DNSLabel(tc.in)
			assertDNSLabel(t, got)
			assert.Equal(t, got, DNSLabel(tc.in))
			assert.Equal(t, got, DNSLabel(got), "a label is its own label")
			if tc.unchanged {
				assert.Equal(t, tc.in, got)
			} else {
				assert.NotEqual(t, tc.in, got)
			}
		})
	}
}

func FuzzDNSLabel(f *testing.F) {
	for _, seed := range []string{
		"", "a", "secretflow-task-psi-0", "task.template", "1task", "Task", "-", "a-", "ä-ö",
		longTask, longDottedTask, strings.Repeat("-", 100), "\xff", "x" + strings.Repeat("-", 60) + "y",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := DNSLabel(in)
		if errs := validation.IsDNS1035Label(got); len(errs) > 0 {
			t.Fatalf("DNSLabel(%q) = %q: %v", in, got, errs)
		}
		if again := DNSLabel(in); again != got {
			t.Fatalf("DNSLabel(%q) not deterministic: %q then %q", in, got, again)
		}
		if len(validation.IsDNS1035Label(in)) == 0 && got != in {
			t.Fatalf("valid label %q changed to %q", in, got)
		}
		if DNSLabel(got) != got {
			t.Fatalf("DNSLabel(%q) = %q is not a fixed point", in, got)
		}
	})
}

// A task with the longest name and role the API allows still gives objects
// Kubernetes accepts: names, hostnames, label values and service selectors.
func TestBuildPartyLongNames(t *testing.T) {
	for _, name := range []string{longTask, longDottedTask, "Upper.Case-Task"} {
		t.Run(name[:10], func(t *testing.T) {
			task, in := templateTask(t), exampleInputs(t)
			task.Name = name
			task.Spec.Parties[1].Role = longRole
			in.AppImages[appTemplateImage].Spec.DeployTemplates[1].Role = "guest," + longRole
			task.Spec.Parties[0].Template.Replicas = ptr.To[int32](2)
			_, all := buildAll(t, task, in)

			seen := map[string]bool{}
			for _, objs := range all {
				for _, p := range objs.Pods {
					assertDNSLabel(t, p.Name)
					assert.Equal(t, p.Name, p.Spec.Hostname)
					assert.Empty(t, validation.IsDNS1123Label(p.Spec.Hostname))
					for k, v := range p.Labels {
						assert.Empty(t, validation.IsValidLabelValue(v), "label %s=%q", k, v)
					}
					got, _ := envValue(p.Spec.Containers[0], "TASK_ID")
					assert.Equal(t, name, got, "TASK_ID is the task's own name")
					assert.False(t, seen["pod/"+p.Namespace+"/"+p.Name], "pod %s twice", p.Name)
					seen["pod/"+p.Namespace+"/"+p.Name] = true
				}
				for _, s := range objs.Services {
					assertDNSLabel(t, s.Name)
					for k, v := range s.Spec.Selector {
						assert.Empty(t, validation.IsValidLabelValue(v), "selector %s=%q", k, v)
					}
					assert.False(t, seen["svc/"+s.Namespace+"/"+s.Name], "service %s twice", s.Name)
					seen["svc/"+s.Namespace+"/"+s.Name] = true
				}
				for _, c := range objs.ConfigMaps {
					assertDNSLabel(t, c.Name)
					assert.False(t, seen["cm/"+c.Namespace+"/"+c.Name], "config map %s twice", c.Name)
					seen["cm/"+c.Namespace+"/"+c.Name] = true
				}
			}
			assert.Len(t, seen, 3*3, "3 pods, each with a service and a config map")
		})
	}
}
