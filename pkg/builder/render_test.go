package builder

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// renderTemplate renders one template over data under a budget of its own.
func renderTemplate(name, text string, data map[string]string) (string, error) {
	return renderWith(context.Background(), RenderLimits{}, name, text, data)
}

func renderWith(ctx context.Context, limits RenderLimits, name, text string, data map[string]string) (string, error) {
	b := newRenderBudget(ctx, Policy{Render: limits}.withDefaults().Render)
	t, err := parseBounded(name, text, templateFuncs(b))
	if err != nil {
		return "", err
	}
	w := &limitedWriter{budget: b, room: MaxConfigMapBytes}
	err = t.Execute(w, data)
	return w.b.String(), err
}

// exponentialTemplates defines t0..tn, each calling the one before twice:
// no recursion, but 2^n calls.
func exponentialTemplates(n int) string {
	var b strings.Builder
	b.WriteString(`{{define "t0"}}x{{end}}`)
	for i := 1; i <= n; i++ {
		b.WriteString(`{{define "t` + strconv.Itoa(i) + `"}}{{template "t` + strconv.Itoa(i-1) + `" .}}{{template "t` + strconv.Itoa(i-1) + `" .}}{{end}}`)
	}
	b.WriteString(`{{template "t` + strconv.Itoa(n) + `" .}}`)
	return b.String()
}

// slowMachine is a render timeout no test reaches, so that the step bound,
// not the clock of a loaded machine, is what stops a bomb.
const slowMachine = 10 * time.Minute

// Every template bomb fails the task with ConfigRenderFailed and a message
// that names the bound, quickly and without building the bomb's output.
func TestTemplateBombs(t *testing.T) {
	bigInput := strings.Repeat("x", 200*1024)
	cases := []struct {
		name     string
		template string
		want     string
	}{
		{"huge range", `{{range 2000000000}}{{end}}`, "more than 100000 steps"},
		{"nested ranges", `{{range 100000}}{{range 100000}}{{end}}{{end}}`, "more than 100000 steps"},
		{"range in a defined template", `{{define "a"}}{{range 2000000000}}{{end}}{{end}}{{template "a" .}}`, "more than 100000 steps"},
		{"recursion", `{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}`, `template "a" calls itself (task-config.conf -> a -> a)`},
		{"mutual recursion", `{{define "a"}}{{template "b" .}}{{end}}{{define "b"}}{{if true}}{{template "a" .}}{{end}}{{end}}{{template "a" .}}`, "calls itself"},
		{"recursion through block", `{{block "a" .}}{{template "a" .}}{{end}}`, "calls itself"},
		{"exponential calls", exponentialTemplates(40), "more than 100000 steps"},
		{"output blow-up", `{{range 100000}}{{$.TASK_INPUT_CONFIG}}{{end}}`, "the pod's config files would exceed 1048576 bytes"},
		{"printf width", `{{printf "%0999999999d" 1}}`, "a width above 4096"},
		{"printf precision", `{{printf "%.999999999f" 1.0}}`, "a precision above 4096"},
		{"printf star width", `{{printf "%*d" 999999999 1}}`, "'*' and explicit argument indexes"},
		{"printf argument index", `{{printf "%[1]s%[1]s" .TASK_INPUT_CONFIG}}`, "'*' and explicit argument indexes"},
		{"print doubling", `{{$x := .TASK_INPUT_CONFIG}}{{range 64}}{{$x = print $x $x}}{{end}}`, "print: its input is "},
		{"printf doubling", `{{$x := "ab"}}{{range 64}}{{$x = printf "%s%s" $x $x}}{{end}}`, "printf: its input is "},
		{"println doubling", `{{$x := "ab"}}{{range 64}}{{$x = println $x $x}}{{end}}`, "println: its input is "},
		{"html growth", `{{$x := "&"}}{{range 64}}{{$x = html $x $x}}{{end}}`, "html: its input is "},
		{"js growth", `{{$x := "<"}}{{range 64}}{{$x = js $x $x}}{{end}}`, "js: its input is "},
		{"urlquery growth", `{{$x := "%"}}{{range 64}}{{$x = urlquery $x $x}}{{end}}`, "urlquery: its input is "},
		{"json growth", `{{$x := "\"\"\"\""}}{{range 64}}{{$x = json $x}}{{end}}`, "json: its result is "},
		{"many printf of the data", `{{range 100000}}{{printf "%v%v%v%v%v%v" $ $ $ $ $ $}}{{end}}`, "printf: its input is "},
		{"many prints of the data", `{{range 100000}}{{printf "%v" $}}{{end}}`, "the pod's config files would exceed 1048576 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			task, in := psiTask(t), exampleInputs(t)
			task.Spec.TaskInputConfig = bigInput
			in.AppImages[secretflowImage].Spec.ConfigTemplates[DefaultConfigFile] = tc.template
			in.Policy.Render.Timeout = slowMachine
			plan, err := PlanTask(task, in)
			require.NoError(t, err)
			start := time.Now()
			objs, err := BuildTask(context.Background(), task, plan, 1)
			assert.Less(t, time.Since(start), 30*time.Second, "a bomb must stop early")
			assert.Nil(t, objs)
			ie, ok := AsInputError(err)
			require.True(t, ok, "want an InputError, got %v", err)
			assert.Equal(t, kusciav1alpha1.ReasonConfigRenderFailed, ie.Reason)
			assert.Contains(t, ie.Message, `party alice: config template "task-config.conf": `)
			assert.Contains(t, ie.Message, tc.want)
		})
	}
}

// A function whose input fits a config file but whose result does not is
// refused after it ran (it grows its input at most sixfold); a result that
// fits is kept, however large its worst case would be.
func TestBoundedFunctionResults(t *testing.T) {
	cases := []struct {
		template, input, want string
	}{
		{`{{html .TASK_INPUT_CONFIG}}`, strings.Repeat("<", 300*1024), "html: its result is 1228800 bytes, more than the 1048576 a config file may hold"},
		{`{{js .TASK_INPUT_CONFIG}}`, strings.Repeat("<", 200*1024), "js: its result is 1228800 bytes"},
		{`{{json .TASK_INPUT_CONFIG}}`, strings.Repeat("\x01", 200*1024), "json: its result is 1228802 bytes"},
		{`{{json .TASK_INPUT_CONFIG}}`, strings.Repeat("x", 900*1024), ""},
		{`{{printf "%q" .TASK_INPUT_CONFIG}}`, strings.Repeat("x", 900*1024), ""},
	}
	for _, tc := range cases {
		t.Run(tc.template, func(t *testing.T) {
			out, err := renderWith(context.Background(), RenderLimits{Timeout: slowMachine}, "t", tc.template,
				map[string]string{KeyTaskInputConfig: tc.input})
			if tc.want == "" {
				require.NoError(t, err)
				assert.Greater(t, len(out), 900*1024)
				return
			}
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// One budget covers the whole task build: a template that fits once fails
// when the task renders it for a second pod.
func TestRenderBudgetIsPerTask(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.AppImages[secretflowImage].Spec.ConfigTemplates[DefaultConfigFile] = `{{range 60000}}{{end}}ok`
	in.Policy.Render.Timeout = slowMachine
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	for i := range plan.Parties {
		_, err := buildOneParty(task, plan, i, 1)
		require.NoError(t, err, "one party alone fits the budget")
	}
	_, err = BuildTask(context.Background(), task, plan, 1)
	ie, ok := AsInputError(err)
	require.True(t, ok, "want an InputError, got %v", err)
	assert.Contains(t, ie.Message, "party bob")
	assert.Contains(t, ie.Message, "more than 100000 steps")
}

func TestRenderBoundsOfPolicy(t *testing.T) {
	cases := []struct {
		name     string
		limits   RenderLimits
		template string
		want     string
	}{
		{"total bytes", RenderLimits{MaxBytes: 10000}, `{{range 6}}{{printf "%1000s" "x"}}{{end}}`,
			"party bob: config template \"task-config.conf\": the task's rendered config files would exceed 10000 bytes in total"},
		{"steps", RenderLimits{MaxSteps: 10}, `{{range 11}}{{end}}`, "party alice: config template \"task-config.conf\": the task's config templates ran more than 10 steps"},
		{"time", RenderLimits{Timeout: time.Nanosecond}, `{{range 10}}{{end}}`, "took longer than 1ns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			task, in := psiTask(t), exampleInputs(t)
			in.AppImages[secretflowImage].Spec.ConfigTemplates[DefaultConfigFile] = tc.template
			in.Policy.Render = tc.limits
			plan, err := PlanTask(task, in)
			require.NoError(t, err)
			_, err = BuildTask(context.Background(), task, plan, 1)
			ie, ok := AsInputError(err)
			require.True(t, ok, "want an InputError, got %v", err)
			assert.Equal(t, kusciav1alpha1.ReasonConfigRenderFailed, ie.Reason)
			assert.Contains(t, ie.Message, tc.want)
		})
	}
}

// A cancelled context (the controller shutting down) stops rendering
// without failing the task: the error is not an InputError.
func TestRenderStopsOnCancelledContext(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.AppImages[secretflowImage].Spec.ConfigTemplates[DefaultConfigFile] = `{{range 10}}{{end}}`
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = BuildTask(ctx, task, plan, 1)
	require.ErrorIs(t, err, context.Canceled)
	_, isInput := AsInputError(err)
	assert.False(t, isInput, "a cancelled build must be retried, not fail the task")
}

// Ordinary templates are untouched by the instrumentation: ranges,
// templates, break and continue, and the bounded builtins behave as usual.
func TestBoundedTemplatesRenderAsUsual(t *testing.T) {
	data := map[string]string{KeyTaskID: "t1", KeyDomainID: "alice", KeyTaskInputConfig: `a<b>&"c"`}
	cases := []struct{ template, want string }{
		{`{{range $i := 3}}{{$i}}{{end}}`, "012"},
		{`{{range $i := 5}}{{if eq $i 1}}{{continue}}{{end}}{{if eq $i 3}}{{break}}{{end}}{{$i}}{{end}}`, "02"},
		{`{{range 0}}x{{else}}empty{{end}}`, "empty"},
		{`{{define "d"}}[{{.KUSCIA_DOMAIN_ID}}]{{end}}{{template "d" .}}{{template "d" .}}`, "[alice][alice]"},
		{`{{block "b" .}}{{.TASK_ID}}{{end}}`, "t1"},
		{`{{with .TASK_ID}}{{.}}{{end}}`, "t1"},
		{`{{printf "%s-%05d-%.2f-%q-%%" .TASK_ID 42 3.14159 "x"}}`, `t1-00042-3.14-"x"-%`},
		{`{{printf "%-4s|" "a"}}`, "a   |"},
		{`{{print 1 2 "x"}}`, "1 2x"},
		{`{{println "a"}}`, "a\n"},
		{`{{html .TASK_INPUT_CONFIG}}`, "a&lt;b&gt;&amp;&#34;c&#34;"},
		{`{{js .TASK_INPUT_CONFIG}}`, `a\u003Cb\u003E\u0026\"c\"`},
		{`{{urlquery .TASK_INPUT_CONFIG}}`, "a%3Cb%3E%26%22c%22"},
		{`{{json .TASK_INPUT_CONFIG}}`, `"a\u003cb\u003e\u0026\"c\""`},
		{`{{len .TASK_ID}}{{index . "KUSCIA_DOMAIN_ID"}}{{slice .TASK_ID 1}}`, "2alice1"},
	}
	for _, tc := range cases {
		t.Run(tc.template, func(t *testing.T) {
			out, err := renderTemplate("t", tc.template, data)
			require.NoError(t, err)
			assert.Equal(t, tc.want, out)
		})
	}
}

func TestFormatPadding(t *testing.T) {
	cases := []struct {
		format string
		want   int
		err    string
	}{
		{"plain", 0, ""},
		{"%d %s %%", 0, ""},
		{"%10d|%-20s|%.3f|%8.2f", 10 + 20 + 3 + 10, ""},
		{"%+#0 4096x", 4096, ""},
		{"%4097d", 0, "width above 4096"},
		{"%.4097f", 0, "precision above 4096"},
		{"%99999999999999999999d", 0, "width above 4096"},
		{"%*d", 0, "'*'"},
		{"%.*f", 0, "'*'"},
		{"%[2]d", 0, "explicit argument indexes"},
		{"%3[1]d", 0, "explicit argument indexes"},
		{"trailing %", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			got, err := formatPadding(tc.format)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TASK_CLUSTER_DEFINE is spliced from the parties' JSON, made once per
// task build; it must be exactly the JSON of the documented ClusterDefine.
func TestClusterDefineIsTheDocumentedJSON(t *testing.T) {
	task, in := psiTask(t), exampleInputs(t)
	in.AppImages[secretflowImage].Spec.DeployTemplates[0].Replicas = ptr.To[int32](2)
	plan, err := PlanTask(task, in)
	require.NoError(t, err)
	r := newRenderer(context.Background(), task, plan)
	for party := range plan.Parties {
		for pod := range plan.Parties[party].Pods {
			data, err := r.data(party, pod)
			require.NoError(t, err)
			want, err := json.Marshal(ClusterDefine{Parties: clusterParties(plan), SelfPartyIdx: party, SelfEndpointIdx: pod})
			require.NoError(t, err)
			assert.Equal(t, string(want), data[KeyTaskClusterDefine])
		}
	}
}
