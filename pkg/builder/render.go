package builder

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// A config template is code the AppImage's author runs inside the
// controller. text/template cannot be interrupted from outside, so every
// template is bounded from within:
//   - output goes through a writer that fails past the pod's ConfigMap
//     limit and the task's total (a failed write stops Execute);
//   - after parsing, a call to the budget function is put at the start of
//     every range body and every template body; it counts steps and checks
//     the deadline and the context, and fails past them;
//   - templates may not call themselves, directly or not;
//   - the builtins that make new strings (print, printf, println, html,
//     js, urlquery, and json) are replaced by versions that refuse results
//     larger than a ConfigMap before building them, and count as steps.

// budgetFunc is the name under which the budget function is called.
const budgetFunc = "kusciaRenderBudget"

// boundError is a render bound that was hit; its message says which.
type boundError struct{ msg string }

func (e *boundError) Error() string { return e.msg }

func boundErrorf(format string, args ...any) error {
	return &boundError{msg: fmt.Sprintf(format, args...)}
}

// renderBudget is shared by every template of one task build.
type renderBudget struct {
	ctx      context.Context
	limits   RenderLimits
	deadline time.Time
	steps    int
	bytes    int
}

func newRenderBudget(ctx context.Context, limits RenderLimits) *renderBudget {
	return &renderBudget{ctx: ctx, limits: limits, deadline: time.Now().Add(limits.Timeout)}
}

// step counts one step and fails past the step bound, the deadline or the
// end of the context.
func (b *renderBudget) step() error {
	b.steps++
	if b.steps > b.limits.MaxSteps {
		return boundErrorf("the task's config templates ran more than %d steps (range iterations, template and function calls)", b.limits.MaxSteps)
	}
	if time.Now().After(b.deadline) {
		return boundErrorf("rendering the task's config templates took longer than %s", b.limits.Timeout)
	}
	if err := b.ctx.Err(); err != nil {
		return fmt.Errorf("rendering stopped: %w", err)
	}
	return nil
}

// limitedWriter collects one config file. It fails a write that would take
// the pod's ConfigMap past MaxConfigMapBytes or the task build past its
// rendered bytes, which stops the template's execution.
type limitedWriter struct {
	b      strings.Builder
	budget *renderBudget
	// room is what is left of the pod's ConfigMap.
	room int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > w.room {
		return 0, boundErrorf("the pod's config files would exceed %d bytes, the most a ConfigMap holds", MaxConfigMapBytes)
	}
	if w.budget.bytes+len(p) > w.budget.limits.MaxBytes {
		return 0, boundErrorf("the task's rendered config files would exceed %d bytes in total", w.budget.limits.MaxBytes)
	}
	w.room -= len(p)
	w.budget.bytes += len(p)
	return w.b.Write(p)
}

// parseBounded parses a config template with the bounded functions, refuses
// recursion and instruments every template of the set with budget calls.
func parseBounded(name, text string, funcs template.FuncMap) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, err
	}
	if err := checkNoRecursion(t); err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil && tt.Tree.Root != nil {
			instrument(tt.Tree)
		}
	}
	return t, nil
}

// instrument puts a budget call at the start of the template's body and of
// every range body in it.
func instrument(tree *parse.Tree) {
	prependBudget(tree, tree.Root)
	walkLists(tree.Root, func(n parse.Node) {
		if r, ok := n.(*parse.RangeNode); ok {
			if r.List == nil {
				r.List = &parse.ListNode{NodeType: parse.NodeList, Pos: r.Pos}
			}
			prependBudget(tree, r.List)
		}
	})
}

func prependBudget(tree *parse.Tree, list *parse.ListNode) {
	pos := list.Pos
	ident := parse.NewIdentifier(budgetFunc).SetTree(tree).SetPos(pos)
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{ident}}
	pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Cmds: []*parse.CommandNode{cmd}}
	action := &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Pipe: pipe}
	list.Nodes = append([]parse.Node{action}, list.Nodes...)
}

// walkLists calls fn on every node of list and of the lists nested in its
// if, range and with nodes, parents first.
func walkLists(list *parse.ListNode, fn func(parse.Node)) {
	if list == nil {
		return
	}
	for _, n := range list.Nodes {
		fn(n)
		switch n := n.(type) {
		case *parse.IfNode:
			walkLists(n.List, fn)
			walkLists(n.ElseList, fn)
		case *parse.RangeNode:
			walkLists(n.List, fn)
			walkLists(n.ElseList, fn)
		case *parse.WithNode:
			walkLists(n.List, fn)
			walkLists(n.ElseList, fn)
		}
	}
}

// checkNoRecursion refuses a template set in which a template calls itself,
// directly or through others: the calls are static names, so the call graph
// is known before running, and recursion could only exhaust the stack.
func checkNoRecursion(t *template.Template) error {
	calls := map[string][]string{}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		walkLists(tt.Tree.Root, func(n parse.Node) {
			if call, ok := n.(*parse.TemplateNode); ok {
				calls[tt.Name()] = append(calls[tt.Name()], call.Name)
			}
		})
	}
	const (
		visiting = iota + 1
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case visiting:
			return boundErrorf("template %q calls itself (%s -> %s); recursive templates are not allowed",
				name, strings.Join(path, " -> "), name)
		case done:
			return nil
		}
		state[name] = visiting
		path = append(path, name)
		for _, callee := range calls[name] {
			if err := visit(callee); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		return nil
	}
	// The file's own template first, then by name: the same set always
	// reports the same cycle.
	names := slices.Sorted(maps.Keys(calls))
	for _, name := range append([]string{t.Name()}, names...) {
		if err := visit(name); err != nil {
			return err
		}
	}
	return nil
}

// renderError turns a failed parse or execution into the message of a
// ConfigRenderFailed: the bound hit when one was, else the template's error.
func renderError(err error) string {
	var be *boundError
	if errors.As(err, &be) {
		return be.msg
	}
	return err.Error()
}
