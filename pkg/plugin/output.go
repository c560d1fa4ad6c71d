package plugin

import (
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/util/duration"

	kusciav1alpha1 "kusciatask.io/controller/pkg/apis/kuscia/v1alpha1"
)

// palette colours words on a terminal and leaves them alone otherwise.
type palette struct{ on bool }

// paletteFor colours when out is a terminal and NO_COLOR is unset.
func paletteFor(out io.Writer) palette {
	f, ok := out.(*os.File)
	return palette{on: ok && os.Getenv("NO_COLOR") == "" && term.IsTerminal(int(f.Fd()))}
}

const (
	ansiRed    = "31"
	ansiGreen  = "32"
	ansiYellow = "33"
	ansiCyan   = "36"
	ansiDim    = "2"
)

func (p palette) paint(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// phase colours a phase: green done, red failed, cyan running, yellow
// waiting.
func (p palette) phase(phase kusciav1alpha1.KusciaTaskPhase) string {
	s := string(phase)
	if s == "" {
		s = "<new>"
	}
	switch phase {
	case kusciav1alpha1.TaskSucceeded:
		return p.paint(ansiGreen, s)
	case kusciav1alpha1.TaskFailed:
		return p.paint(ansiRed, s)
	case kusciav1alpha1.TaskRunning:
		return p.paint(ansiCyan, s)
	default:
		return p.paint(ansiYellow, s)
	}
}

// age is how long ago t was, kubectl style ("5m10s"); "<unknown>" for zero.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// oneLine makes a message fit on a line: newlines become spaces and it is
// cut at max runes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
