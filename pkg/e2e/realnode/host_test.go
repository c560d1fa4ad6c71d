//go:build realnode

package realnode

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// hostState is what a real node changes on the host, per category, each a
// sorted list of lines.
type hostState map[string][]string

// Fixed host paths the kubelet and containerd create whatever their
// configuration, and local-up's lock.
var hostPaths = []string{
	"/var/lib/kubelet", "/var/lib/kubelet/pki", "/var/lib/kubelet/device-plugins",
	"/var/log/containers", "/var/log/pods", "/var/lib/cni", "/run/containerd",
	"/var/run/netns", "/run/netns", "/opt/containerd", "/var/lib/containerd", "/etc/cni", "/opt/cni",
	"/run/kusciatask-controller-realnode.lock",
}

// Sysctls the kubelet and the CNI bridge change.
var hostSysctls = []string{
	"vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops",
	"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding",
}

// Processes of a real node, by command name (pause and hello are the
// lane's container images).
var nodeCommands = []string{"kubelet", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc", "pause", "hello"}

// snapshotHost records: mount points, cgroups (two levels under
// /sys/fs/cgroup), network links, network namespaces, every iptables table
// of every backend and family, the sysctls, which fixed paths exist, and the
// processes of a node.
func snapshotHost() (hostState, error) {
	s := hostState{}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	for _, line := range strings.Split(string(mountinfo), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			s.add("mounts", f[4])
		}
	}
	for _, pattern := range []string{"/sys/fs/cgroup/*", "/sys/fs/cgroup/*/*"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				s.add("cgroups", m)
			}
		}
	}
	links, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("ip link: %w", err)
	}
	for _, line := range strings.Split(string(links), "\n") {
		if f := strings.SplitN(line, ": ", 3); len(f) == 3 {
			s.add("links", strings.SplitN(f[1], "@", 2)[0])
		}
	}
	for _, dir := range []string{"/run/netns", "/var/run/netns"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			s.add("netns", filepath.Join(dir, e.Name()))
		}
	}
	for _, cmd := range []string{"iptables-legacy", "iptables-nft", "ip6tables-legacy", "ip6tables-nft"} {
		if _, err := exec.LookPath(cmd + "-save"); err != nil {
			continue
		}
		// One full save: `-save -t <table>` would load a legacy table that
		// does not exist yet.
		out, err := exec.Command(cmd + "-save").Output()
		if err != nil {
			return nil, fmt.Errorf("%s-save: %w", cmd, err)
		}
		for table, rules := range iptablesTables(out) {
			for _, rule := range rules {
				s.add("iptables", cmd+" "+table+" "+rule)
			}
		}
	}
	for _, key := range hostSysctls {
		v, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/")))
		if err != nil {
			s.add("sysctls", key+"=absent")
			continue
		}
		s.add("sysctls", key+"="+strings.TrimSpace(string(v)))
	}
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); err == nil {
			s.add("paths", p)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, f := range procs {
		comm, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if name := strings.TrimSpace(string(comm)); slices.Contains(nodeCommands, name) {
			args, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "cmdline"))
			s.add("processes", name+" "+strings.TrimSpace(string(bytes.ReplaceAll(args, []byte{0}, []byte{' '}))))
		}
	}
	for k := range s {
		slices.Sort(s[k])
	}
	return s, nil
}

func (s hostState) add(category, line string) { s[category] = append(s[category], line) }

var builtinChain = regexp.MustCompile(`^:(INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) ACCEPT`)

// iptablesTables splits an iptables-save output into each table's chains and
// rules, without comments, counters and COMMIT. A table holding nothing but
// empty built-in chains with policy ACCEPT behaves as no table and is left
// out: no iptables command deletes a table, and the nft backend creates one
// on first use.
func iptablesTables(save []byte) map[string][]string {
	tables := map[string][]string{}
	onlyBuiltin := map[string]bool{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(save))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
			onlyBuiltin[table] = true
			continue
		case line == "", strings.HasPrefix(line, "#"), line == "COMMIT", table == "":
			continue
		case strings.HasPrefix(line, ":"):
			if i := strings.LastIndex(line, " ["); i > 0 {
				line = line[:i]
			}
			if !builtinChain.MatchString(line) {
				onlyBuiltin[table] = false
			}
		default:
			onlyBuiltin[table] = false
		}
		tables[table] = append(tables[table], line)
	}
	for t, empty := range onlyBuiltin {
		if empty {
			delete(tables, t)
		}
	}
	return tables
}

// diffHost lists every line that is in one state and not the other, per
// category: "+" only in b, "-" only in a.
func diffHost(a, b hostState) []string {
	var out []string
	categories := map[string]bool{}
	for k := range a {
		categories[k] = true
	}
	for k := range b {
		categories[k] = true
	}
	keys := make([]string, 0, len(categories))
	for k := range categories {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, l := range b[k] {
			if !slices.Contains(a[k], l) {
				out = append(out, k+": + "+l)
			}
		}
		for _, l := range a[k] {
			if !slices.Contains(b[k], l) {
				out = append(out, k+": - "+l)
			}
		}
	}
	return out
}

// changed says whether any line of category differs between a and b and
// matches substr.
func changed(a, b hostState, category, substr string) bool {
	for _, d := range diffHost(hostState{category: a[category]}, hostState{category: b[category]}) {
		if strings.Contains(d, substr) {
			return true
		}
	}
	return false
}
