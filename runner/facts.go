package runner

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"time"

	"fleetrun.dev/fleet/jinja"
	"fleetrun.dev/fleet/playbook"
	"fleetrun.dev/fleet/report"
)

// factsScript prints the few facts fleet gathers, as key=value lines, in
// one session: what a POSIX host has without Python.
const factsScript = `h=$(hostname 2>/dev/null || uname -n)
echo "nodename=$(uname -n)"
echo "hostname=$h"
echo "fqdn=$(hostname -f 2>/dev/null || echo "$h")"
echo "system=$(uname -s)"
echo "kernel=$(uname -r)"
echo "machine=$(uname -m)"
echo "user_id=$(id -un 2>/dev/null)"
echo "vcpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"
[ -r /etc/os-release ] && sed -n 's/^\([A-Z_]*\)=/os_\1=/p' /etc/os-release
[ -r /etc/debian_version ] && echo "debian_version=$(cat /etc/debian_version)"
echo "route=$(ip -4 route get 1.1.1.1 2>/dev/null | head -n 1)"
true`

// gatherFacts is the implicit "Gathering Facts" task: one session per
// host.
func (r *playRun) gatherFacts(ctx context.Context, pc *playCtx, hosts []*hostState) {
	// The implicit facts task is tagged always, and with the play's tags.
	tags := map[string]bool{"always": true}
	for _, g := range pc.play.Tags {
		tags[g] = true
	}
	if !TagsAllow(tags, r.opts.Tags, r.opts.SkipTags) {
		return
	}
	t := &playbook.Task{Pos: pc.play.Pos, Name: "Gathering Facts", Module: "gather_facts"}
	r.header(pc, t, false, "")
	live := r.live(pc, hosts)
	eachState(ctx, live, r.opts.Forks, func(s *hostState) {
		o := r.facts(ctx, s)
		if ctx.Err() != nil {
			return // interrupted: no result
		}
		r.record(pc, t, s, o, false)
	})
	r.afterTask(pc, t, live)
}

func (r *playRun) facts(ctx context.Context, s *hostState) *outcome {
	start := time.Now()
	m, err := s.master(ctx, r.conn)
	if err != nil {
		o := unreachable(err)
		o.start, o.end = start, time.Now()
		return o
	}
	tc := &taskConn{m: m, sh: s.sh, host: s.name}
	out, err := tc.Run(ctx, factsScript, nil, nil)
	if err != nil {
		o := unreachable(err)
		o.start, o.end = start, time.Now()
		return o
	}
	f := parseFacts(string(out.Stdout))
	// Facts are data from the host: never templated, as in Ansible.
	s.setFacts(jinja.MarkUnsafe(f).(map[string]any))
	return &outcome{status: report.TaskOK, start: start, end: time.Now(),
		result: map[string]any{"changed": false, "ansible_facts": f}}
}

// parseFacts turns the script's output into Ansible's fact names.
func parseFacts(out string) map[string]any {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			kv[k] = strings.Trim(v, `"'`)
		}
	}
	host := kv["hostname"]
	short, _, _ := strings.Cut(host, ".")
	f := map[string]any{
		"hostname":     short,
		"nodename":     kv["nodename"],
		"fqdn":         kv["fqdn"],
		"system":       kv["system"],
		"kernel":       kv["kernel"],
		"architecture": kv["machine"],
		"machine":      kv["machine"],
		"user_id":      kv["user_id"],
	}
	if n, err := strconv.Atoi(kv["vcpus"]); err == nil {
		f["processor_vcpus"] = int64(n)
	}
	id := kv["os_ID"]
	dist, family := distribution(id, kv["os_ID_LIKE"], kv["os_NAME"])
	f["distribution"] = dist
	f["os_family"] = family
	f["distribution_release"] = kv["os_VERSION_CODENAME"]
	version := kv["os_VERSION_ID"]
	if id == "debian" && kv["debian_version"] != "" {
		version = kv["debian_version"]
	}
	f["distribution_version"] = version
	major, _, _ := strings.Cut(version, ".")
	f["distribution_major_version"] = major
	f["default_ipv4"] = defaultIPv4(kv["route"])
	if dist == "" {
		f["distribution"] = kv["system"]
		f["os_family"] = kv["system"]
	}
	return f
}

// distNames and distFamilies name a distribution and its family by its
// os-release ID, as Ansible does.
var (
	distNames = map[string]string{"debian": "Debian", "ubuntu": "Ubuntu", "centos": "CentOS", "rhel": "RedHat",
		"fedora": "Fedora", "rocky": "Rocky", "almalinux": "AlmaLinux", "alpine": "Alpine", "arch": "Archlinux",
		"opensuse-leap": "openSUSE Leap", "sles": "SLES", "amzn": "Amazon", "ol": "OracleLinux", "linuxmint": "Linux Mint"}
	distFamilies = map[string]string{"debian": "Debian", "ubuntu": "Debian", "linuxmint": "Debian", "centos": "RedHat",
		"rhel": "RedHat", "fedora": "RedHat", "rocky": "RedHat", "almalinux": "RedHat", "amzn": "RedHat", "ol": "RedHat",
		"alpine": "Alpine", "arch": "Archlinux", "opensuse-leap": "Suse", "sles": "Suse"}
)

// distribution names a distribution and its family as Ansible does.
func distribution(id, like, name string) (dist, family string) {
	dist = distNames[id]
	if dist == "" && name != "" {
		dist, _, _ = strings.Cut(name, " ")
	}
	family = distFamilies[id]
	if family == "" {
		for _, l := range strings.Fields(like) {
			if f := distFamilies[l]; f != "" {
				family = f
				break
			}
		}
	}
	if family == "" {
		family = dist
	}
	return dist, family
}

// defaultIPv4 reads `ip route get`'s answer: "1.1.1.1 via GW dev IF src ADDR".
func defaultIPv4(route string) map[string]any {
	w := strings.Fields(route)
	out := map[string]any{}
	for i := 0; i+1 < len(w); i++ {
		switch w[i] {
		case "via":
			out["gateway"] = w[i+1]
		case "dev":
			out["interface"] = w[i+1]
		case "src":
			out["address"] = w[i+1]
		}
	}
	return out
}
