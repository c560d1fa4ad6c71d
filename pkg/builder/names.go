package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// maxNameLength is the length of a DNS-1035 label, the strictest name any
// child object needs (Service names; pod names end up as hostnames and label
// values).
const maxNameLength = 63

// hashLength is the number of hex characters of the hash that keeps a cut
// name unique.
const hashLength = 8

// PodName is the name of a party's i-th pod: <task>-<role>-<i>, or
// <task>-<i> when the party has no role.
func PodName(task, role string, i int) string {
	return DNSLabel(podBaseName(task, role, i))
}

// ServiceName is the name of the headless service of one port of a pod:
// <pod>-<port>.
func ServiceName(task, role string, i int, port string) string {
	return DNSLabel(podBaseName(task, role, i) + "-" + port)
}

// ConfigMapName is the name of the ConfigMap holding a pod's rendered config
// files: <pod>-config.
func ConfigMapName(task, role string, i int) string {
	return DNSLabel(podBaseName(task, role, i) + "-config")
}

// TaskLabelValue is the task name as a label value: task names may be up to
// 253 characters long, label values only 63.
func TaskLabelValue(task string) string {
	return DNSLabel(task)
}

func podBaseName(task, role string, i int) string {
	if role == "" {
		return task + "-" + strconv.Itoa(i)
	}
	return task + "-" + role + "-" + strconv.Itoa(i)
}

// DNSLabel returns name unchanged when it is a valid DNS-1035 label.
// Otherwise it derives one deterministically: characters a label cannot hold
// become '-', a leading digit or dash gets an "x" prefix, and the result is
// cut so that "-" and a hash of the original name fit in 63 characters. The
// hash keeps distinct names distinct after cutting or replacing.
func DNSLabel(name string) string {
	if isDNSLabel(name) {
		return name
	}
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	clean := b.String()
	if clean == "" || clean[0] < 'a' || clean[0] > 'z' {
		clean = "x" + clean
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hex.EncodeToString(sum[:])[:hashLength]
	if keep := maxNameLength - hashLength - 1; len(clean) > keep {
		clean = clean[:keep]
	}
	return strings.TrimRight(clean, "-") + "-" + suffix
}

// isDNSLabel reports whether s is a DNS-1035 label: at most 63 characters of
// [a-z0-9-], starting with a letter and ending with a letter or digit.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > maxNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9', c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return s[len(s)-1] != '-'
}
