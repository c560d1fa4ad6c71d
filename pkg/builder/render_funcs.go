package builder

import (
	"encoding/json"
	"fmt"
	"reflect"
	"text/template"
)

// maxFormatWidth bounds the width and precision of a printf verb: fmt pads
// in memory before anything is written, so %0999999999d would allocate a
// gigabyte.
const maxFormatWidth = 4096

// templateFuncs are the functions of config templates, bound to one
// budget: json quotes a value as a JSON string (for embedding
// TASK_INPUT_CONFIG in a JSON file); the builtins that build new strings are
// replaced by bounded versions of themselves.
func templateFuncs(b *renderBudget) template.FuncMap {
	return template.FuncMap{
		budgetFunc: func() (string, error) { return "", b.step() },
		"json": func(v string) (string, error) {
			return b.bounded("json", len(v), func() string {
				out, _ := json.Marshal(v) // a string always encodes
				return string(out)
			})
		},
		"print":    b.sprint("print", fmt.Sprint),
		"println":  b.sprint("println", fmt.Sprintln),
		"html":     b.sprint("html", template.HTMLEscaper),
		"js":       b.sprint("js", template.JSEscaper),
		"urlquery": b.sprint("urlquery", template.URLQueryEscaper),
		"printf":   b.sprintf,
	}
}

// bounded counts a function call as a step and bounds the value it makes:
// an input larger than a config file is refused before anything is built;
// otherwise f runs (none of the functions grows its input more than
// sixfold, so it allocates at most a few MiB) and a result larger than a
// config file is refused.
func (b *renderBudget) bounded(fn string, inputSize int, f func() string) (string, error) {
	if err := b.step(); err != nil {
		return "", err
	}
	if inputSize > MaxConfigMapBytes {
		return "", boundErrorf("%s: its input is %d bytes, more than the %d a config file may hold", fn, inputSize, MaxConfigMapBytes)
	}
	out := f()
	if len(out) > MaxConfigMapBytes {
		return "", boundErrorf("%s: its result is %d bytes, more than the %d a config file may hold", fn, len(out), MaxConfigMapBytes)
	}
	return out, nil
}

// sprint bounds a builtin that formats its arguments one after the other.
func (b *renderBudget) sprint(fn string, f func(...any) string) func(...any) (string, error) {
	return func(args ...any) (string, error) {
		return b.bounded(fn, argsSize(args), func() string { return f(args...) })
	}
}

// sprintf is printf with every width and precision bounded, explicit
// argument indexes and '*' refused (so each argument is formatted at most
// once, and %q or %x at most quadruple it), and the result bounded.
func (b *renderBudget) sprintf(format string, args ...any) (string, error) {
	pad, err := formatPadding(format)
	if err != nil {
		return "", err
	}
	// Each argument may also bring a %!(EXTRA ...) or type annotation.
	size := len(format) + pad + argsSize(args) + 64*len(args)
	return b.bounded("printf", size, func() string { return fmt.Sprintf(format, args...) })
}

// formatPadding checks every verb of a printf format and returns the sum of
// their widths and precisions.
func formatPadding(format string) (int, error) {
	total := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && (format[i] == '+' || format[i] == '-' || format[i] == '#' || format[i] == ' ' || format[i] == '0') {
			i++
		}
		for _, part := range []string{"width", "precision"} {
			if part == "precision" {
				if i >= len(format) || format[i] != '.' {
					break
				}
				i++
			}
			if i < len(format) && (format[i] == '*' || format[i] == '[') {
				return 0, boundErrorf("printf: %q: '*' and explicit argument indexes are not supported in config templates", format)
			}
			n := 0
			for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
				n = n*10 + int(format[i]-'0')
				if n > maxFormatWidth {
					return 0, boundErrorf("printf: %q: a %s above %d is not allowed in config templates", format, part, maxFormatWidth)
				}
			}
			total += n
		}
		if i < len(format) && format[i] == '[' {
			return 0, boundErrorf("printf: %q: '*' and explicit argument indexes are not supported in config templates", format)
		}
	}
	return total, nil
}

// argsSize bounds the formatted size of the arguments; it stops counting
// once past a ConfigMap.
func argsSize(args []any) int {
	n := 0
	for _, a := range args {
		n += 1 + valueSize(reflect.ValueOf(a), MaxConfigMapBytes+1-n)
		if n > MaxConfigMapBytes {
			break
		}
	}
	return n
}

// valueSize bounds the size of v printed with %v, counting no further than
// limit. Template values are strings, numbers, booleans and the data map;
// anything else counts as small.
func valueSize(v reflect.Value, limit int) int {
	switch v.Kind() {
	case reflect.String:
		return v.Len()
	case reflect.Map:
		n := 8
		for it := v.MapRange(); it.Next() && n <= limit; {
			n += 2 + valueSize(it.Key(), limit-n) + valueSize(it.Value(), limit-n)
		}
		return n
	case reflect.Slice, reflect.Array:
		n := 8
		for i := 0; i < v.Len() && n <= limit; i++ {
			n += 4 + valueSize(v.Index(i), limit-n)
		}
		return n
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 8
		}
		return 8 + valueSize(v.Elem(), limit)
	}
	return smallValueSize
}

// smallValueSize bounds a number or boolean printed in full (%f of 1e308 is
// 316 bytes).
const smallValueSize = 400
