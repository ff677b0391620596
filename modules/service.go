package modules

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

func init() {
	register("service", runService)
	register("systemd", runSystemd)
}

var serviceOpts = []optSpec{
	{name: "name", kind: optStr, required: true},
	{name: "state", kind: optStr, choices: []string{"started", "stopped", "reloaded", "restarted"}},
	{name: "sleep", kind: optInt},
	{name: "pattern", kind: optStr, unsupported: true},
	{name: "enabled", kind: optBool},
	{name: "runlevel", kind: optStr, def: "default"},
	{name: "arguments", kind: optStr, def: "", aliases: []string{"args"}},
	{name: "use", kind: optStr, def: "auto"},
}

var systemdOpts = []optSpec{
	{name: "name", kind: optStr, aliases: []string{"service", "unit"}},
	{name: "state", kind: optStr, choices: []string{"reloaded", "restarted", "started", "stopped"}},
	{name: "enabled", kind: optBool},
	{name: "force", kind: optBool},
	{name: "masked", kind: optBool},
	{name: "daemon_reload", kind: optBool, def: false, aliases: []string{"daemon-reload"}},
	{name: "daemon_reexec", kind: optBool, def: false, aliases: []string{"daemon-reexec"}},
	{name: "scope", kind: optStr, def: "system", choices: []string{"system", "user", "global"}},
	{name: "no_block", kind: optBool, def: false},
}

// Where the service modules look for systemd and sysv init files;
// tests point them into a scratch directory.
var (
	svcSystemdCanaries = []string{"/run/systemd/system/", "/dev/.run/systemd/", "/dev/.systemd/"}
	svcPID1Comm        = "/proc/1/comm"
	svcEtc             = "/etc"
)

// svcTools returns the script part that finds the service tools as
// Ansible's get_service_tools does, in PATH and the sbin directories,
// says whether systemd runs the host (systemctl and one of systemd's
// canaries, or PID 1 is systemd), and defines fleet_do KEY CMD..., which
// runs a command with its output in files (a daemon the command leaves
// behind must not hold the session open) and records its exit status
// and output as KEY_rc, KEY_out and KEY_err.
func svcTools() string {
	var canary []string
	for _, c := range svcSystemdCanaries {
		canary = append(canary, "[ -e "+shellQuoteAlways(c)+" ]")
	}
	return `fleet_path=$PATH:/sbin:/usr/sbin:/bin:/usr/bin
for fleet_b in systemctl service chkconfig update-rc.d insserv initctl rc-service; do fleet_rec "bin_$fleet_b" "$(PATH=$fleet_path command -v "$fleet_b" 2>/dev/null)"; done
fleet_systemd=
if PATH=$fleet_path command -v systemctl >/dev/null 2>&1; then
  if ` + strings.Join(canary, " || ") + ` || grep -q systemd ` + shellQuoteAlways(svcPID1Comm) + ` 2>/dev/null; then fleet_rec systemd 1; fleet_systemd=1; fi
fi
fleet_tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$fleet_tmp"' EXIT
fleet_do() { fleet_k=$1; shift; "$@" </dev/null >"$fleet_tmp/o" 2>"$fleet_tmp/e"; fleet_r=$?; echo $fleet_r > "$fleet_tmp/rc_$fleet_k"; fleet_rec "${fleet_k}_rc" $fleet_r; fleet_rec "${fleet_k}_out" "$(cat "$fleet_tmp/o")"; fleet_rec "${fleet_k}_err" "$(cat "$fleet_tmp/e")"; }
fleet_last_rc() { cat "$fleet_tmp/rc_$1"; }
`
}

// svcTask is one service or systemd task on one host.
type svcTask struct {
	c    *Call
	o    moduleOpts
	name string
	recs shellRecords
}

// svcRun runs a script made of the tool lookup, a helper that runs a
// command with its output in files (a daemon the command leaves behind
// must not hold the session open), and body; the command outputs come
// back as records "KEY_rc", "KEY_out" and "KEY_err".
func (s *svcTask) svcRun(ctx context.Context, body string) (shellRecords, *Result, error) {
	script := shellStatFuncs + svcTools() + body + "fleet_rec done 1\n"
	out, err := exec(ctx, s.c, script, nil)
	if err != nil {
		return nil, nil, err
	}
	if m := sudoFailed(s.c, out); m != "" {
		r := failedResult(m, nil)
		return nil, &r, nil
	}
	recs := parseShellRecords(out.Stdout)
	if _, ok := recs.get("done"); !ok {
		r := failedResult(fmt.Sprintf("could not look at the service %s on the host: %s", s.name, strings.TrimSpace(outputText(out.Stderr))), nil)
		return nil, &r, nil
	}
	return recs, nil, nil
}

func (s *svcTask) rc(key string) int {
	v, _ := s.recs.get(key + "_rc")
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

func (s *svcTask) out(key string) string { v, _ := s.recs.get(key + "_out"); return v }
func (s *svcTask) errOut(key string) string {
	v, _ := s.recs.get(key + "_err")
	return v
}

// runService manages a service as Ansible's service action does: through
// the systemd module's logic when systemd runs the host, otherwise with
// the service command (or the init script) and update-rc.d or
// chkconfig, as Ansible's LinuxService does.
func runService(ctx context.Context, c *Call) (Result, error) {
	o, msg := readOpts(c.Module, c.Args, serviceOpts)
	if msg != "" {
		return failedResult(msg, nil), nil
	}
	if !o.has("state") && !o.has("enabled") {
		return failedResult("one of the following is required: state, enabled", nil), nil
	}
	s := &svcTask{c: c, o: o, name: o.str("name")}
	q := shellQuoteAlways(s.name)
	var body strings.Builder
	etc := shellQuoteAlways(svcEtc)
	fmt.Fprintf(&body, "fleet_i=%s/init.d/%s; if [ -f \"$fleet_i\" ]; then fleet_rec initscript \"$fleet_i\"; fi\n", etc, q)
	fmt.Fprintf(&body, "for fleet_f in %s/rc?.d/S??%s; do if [ -e \"$fleet_f\" ] || [ -L \"$fleet_f\" ]; then fleet_rec slink 1; break; fi; done\n", etc, q)
	fmt.Fprintf(&body, "for fleet_f in %s/rc?.d/K??%s; do if [ -e \"$fleet_f\" ] || [ -L \"$fleet_f\" ]; then fleet_rec klink 1; break; fi; done\n", etc, q)
	// On a systemd host, look at the unit as the systemd module does.
	fmt.Fprintf(&body, "if [ -n \"$fleet_systemd\" ]; then\nfleet_scargs=\n%sfleet_rec done 1; exit 0\nfi\n", systemdProbe(s.name, false, false))
	if o.has("state") {
		fmt.Fprintf(&body, "if [ -n \"$(PATH=$fleet_path command -v service)\" ]; then fleet_do status \"$(PATH=$fleet_path command -v service)\" %s status %s; elif [ -f \"$fleet_i\" ]; then fleet_do status \"$fleet_i\" status %s; fi\n", q, o.str("arguments"), o.str("arguments"))
	}
	if o.has("enabled") {
		fmt.Fprintf(&body, "if [ -n \"$(PATH=$fleet_path command -v chkconfig)\" ]; then fleet_do chklist chkconfig --list %s; fi\n", q)
	}
	recs, fail, err := s.svcRun(ctx, body.String())
	if err != nil || fail != nil {
		return derefResult(fail), err
	}
	s.recs = recs
	if _, ok := recs.get("systemd"); ok {
		// The service action hands over to the systemd module, without
		// the options systemd does not know.
		args := map[string]any{"name": s.name}
		for _, k := range []string{"state", "enabled"} {
			if v, ok := o.v[k]; ok {
				args[k] = v
			}
		}
		return s.systemd(ctx, args)
	}
	return s.sysv(ctx)
}

// derefResult returns *r, or the zero Result for nil.
func derefResult(r *Result) Result {
	if r == nil {
		return Result{}
	}
	return *r
}

// runSystemd manages a systemd unit as Ansible's systemd module does.
func runSystemd(ctx context.Context, c *Call) (Result, error) {
	s := &svcTask{c: c}
	return s.systemd(ctx, c.Args)
}

// systemdProbe is the script part that looks at a unit: daemon-reload
// first when asked, then systemctl show, is-enabled and list-unit-files,
// and the unit's sysv script and links.
func systemdProbe(name string, reload, reexec bool) string {
	var b strings.Builder
	b.WriteString("if [ -z \"$(PATH=$fleet_path command -v systemctl)\" ]; then fleet_rec nosystemctl 1; fleet_rec done 1; exit 0; fi\n")
	b.WriteString("fleet_sc=$(PATH=$fleet_path command -v systemctl)\n")
	if reload {
		b.WriteString("fleet_do reload \"$fleet_sc\" $fleet_scargs daemon-reload\n")
	}
	if reexec {
		b.WriteString("fleet_do reexec \"$fleet_sc\" $fleet_scargs daemon-reexec\n")
	}
	if name != "" {
		q := shellQuoteAlways(name)
		fmt.Fprintf(&b, "fleet_do show \"$fleet_sc\" $fleet_scargs show %s\n", q)
		fmt.Fprintf(&b, "fleet_do isen \"$fleet_sc\" $fleet_scargs is-enabled %s -l\n", q)
		fmt.Fprintf(&b, "fleet_do luf \"$fleet_sc\" $fleet_scargs list-unit-files %s\n", q)
		etc := shellQuoteAlways(svcEtc)
		fmt.Fprintf(&b, "if [ -e %s/init.d/%s ]; then fleet_rec sysv 1; fi\n", etc, q)
		fmt.Fprintf(&b, "for fleet_f in %s/rc?.d/S??%s; do if [ -e \"$fleet_f\" ] || [ -L \"$fleet_f\" ]; then fleet_rec slink 1; break; fi; done\n", etc, q)
	}
	return b.String()
}

// systemd is the systemd module's logic on args.
func (s *svcTask) systemd(ctx context.Context, args map[string]any) (Result, error) {
	o, msg := readOpts("systemd", args, systemdOpts)
	if msg != "" {
		return failedResult(msg, nil), nil
	}
	s.o = o
	if !o.has("state") && !o.has("enabled") && !o.has("masked") && !o.boolean("daemon_reload") && !o.boolean("daemon_reexec") {
		return failedResult("one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec", nil), nil
	}
	for _, k := range []string{"state", "enabled", "masked"} {
		if o.has(k) && !o.has("name") {
			return failedResult(fmt.Sprintf("missing parameter(s) required by '%s': name", k), nil), nil
		}
	}
	unit := o.str("name")
	s.name = unit
	if strings.ContainsAny(unit, "*?[") {
		for _, g := range []string{"*", "?", "["} {
			if strings.Contains(unit, g) {
				return failedResult(fmt.Sprintf("This module does not currently support using glob patterns, found '%s' in service name: %s", g, unit), nil), nil
			}
		}
	}
	scargs := ""
	if sc := o.str("scope"); sc != "system" {
		scargs += " --" + sc
	}
	if o.boolean("no_block") {
		scargs += " --no-block"
	}
	if o.boolean("force") {
		scargs += " --force"
	}
	if _, probed := s.recs.get("show_rc"); !probed {
		body := "fleet_scargs='" + strings.TrimSpace(scargs) + "'\n" + systemdProbe(unit, o.boolean("daemon_reload") && !s.c.Check, o.boolean("daemon_reexec") && !s.c.Check)
		recs, fail, err := s.svcRun(ctx, body)
		if err != nil || fail != nil {
			return derefResult(fail), err
		}
		s.recs = recs
	}
	if _, ok := s.recs.get("nosystemctl"); ok {
		return failedResult("Failed to find required executable systemctl in paths: "+strings.Join([]string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}, ":"), nil), nil
	}
	for _, k := range []string{"reload", "reexec"} {
		if rc := s.rc(k); rc > 0 {
			return failedResult(fmt.Sprintf("failure %d during daemon-%s: %s", rc, k, s.errOut(k)), nil), nil
		}
	}
	fields := map[string]any{"name": svcNameField(unit), "status": map[string]any{}}
	res := Result{Fields: fields}
	if unit == "" {
		return res, nil
	}
	status := map[string]any{}
	isSystemd := false
	if s.rc("show") == 0 && !systemdIgnored(s.out("show")) && !systemdIgnored(s.errOut("show")) {
		status = parseSystemctlShow(s.out("show"))
		fields["status"] = status
		load, _ := status["LoadState"].(string)
		isSystemd = load != "" && load != "not-found"
		if le, ok := status["LoadError"]; isSystemd && load != "masked" && ok {
			return failedResult(fmt.Sprintf("Error loading unit file '%s': %s", unit, le), fields), nil
		}
	} else {
		switch strings.TrimSpace(s.out("isen")) {
		case "enabled", "enabled-runtime", "linked", "linked-runtime", "masked", "masked-runtime", "static", "indirect", "disabled", "generated", "transient":
			isSystemd = true
		default:
			isSystemd = s.rc("luf") == 0
		}
	}
	_, isInitd := s.recs.get("sysv")
	found := isSystemd || isInitd
	missing := func() Result {
		return failedResult(fmt.Sprintf("Could not find the requested service %s: host", unit), fields)
	}
	var acts []string // systemctl verbs to run, in order
	if o.has("masked") {
		masked := strings.TrimSpace(s.out("isen")) == "masked"
		if masked != o.boolean("masked") {
			res.Changed = true
			verb := "unmask"
			if o.boolean("masked") {
				verb = "mask"
			}
			acts = append(acts, verb)
		}
	}
	if o.has("enabled") {
		if !found {
			return missing(), nil
		}
		enabled := false
		switch rc := s.rc("isen"); rc {
		case 0:
			lines := strings.Split(strings.TrimRight(s.out("isen"), "\n"), "\n")
			enabled = !(len(lines) == 1 && (lines[0] == "indirect" || lines[0] == "alias"))
		case 1:
			_, slink := s.recs.get("slink")
			if o.str("scope") == "system" && isInitd && !strings.HasSuffix(strings.TrimSpace(s.out("isen")), "disabled") && slink {
				enabled = true
			}
		}
		fields["enabled"] = enabled
		if enabled != o.boolean("enabled") {
			res.Changed = true
			verb := "disable"
			if o.boolean("enabled") {
				verb = "enable"
			}
			acts = append(acts, verb)
			fields["enabled"] = !enabled
		}
	}
	if o.has("state") {
		if !found {
			return missing(), nil
		}
		want := o.str("state")
		fields["state"] = want
		active, ok := status["ActiveState"].(string)
		if !ok {
			return failedResult("Service is in unknown state", map[string]any{"status": status}), nil
		}
		running := active == "active" || active == "activating"
		verb := ""
		switch want {
		case "started":
			if !running {
				verb = "start"
			}
		case "stopped":
			if running || active == "deactivating" {
				verb = "stop"
			}
		default:
			verb = strings.TrimSuffix(want, "ed")
			if !running {
				verb = "start"
			}
			fields["state"] = "started"
		}
		if verb != "" {
			res.Changed = true
			acts = append(acts, verb)
		}
	}
	if len(acts) == 0 || s.c.Check {
		return res, nil
	}
	var body2 strings.Builder
	fmt.Fprintf(&body2, "fleet_scargs='%s'; fleet_sc=$(PATH=$fleet_path command -v systemctl)\n", strings.TrimSpace(scargs))
	for i, verb := range acts {
		fmt.Fprintf(&body2, "fleet_do a%d \"$fleet_sc\" $fleet_scargs %s %s\n", i, verb, shellQuoteAlways(unit))
		fmt.Fprintf(&body2, "if [ \"$(fleet_last_rc a%d)\" != 0 ]; then fleet_rec done 1; exit 0; fi\n", i)
	}
	recs, fail, err := s.svcRun(ctx, body2.String())
	if err != nil || fail != nil {
		return derefResult(fail), err
	}
	s.recs = recs
	for i, verb := range acts {
		key := fmt.Sprintf("a%d", i)
		rc := s.rc(key)
		if rc == 0 {
			continue
		}
		switch verb {
		case "mask", "unmask":
			if !found {
				return missing(), nil
			}
			continue
		case "enable", "disable":
			return failedResult(fmt.Sprintf("Unable to %s service %s: %s", verb, unit, s.out(key)+s.errOut(key)), fields), nil
		default:
			return failedResult(fmt.Sprintf("Unable to %s service %s: %s", verb, unit, s.errOut(key)), fields), nil
		}
	}
	return res, nil
}

// svcNameField is the result's name: nil when the task gave none.
func svcNameField(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// systemdIgnored is the systemd module's request_was_ignored.
func systemdIgnored(out string) bool {
	return !strings.Contains(out, "=") && (strings.Contains(out, "ignoring request") || strings.Contains(out, "ignoring command"))
}

// parseSystemctlShow reads systemctl show's KEY=VALUE lines as Ansible's
// parse_systemctl_show does (Exec* values in braces may span lines).
func parseSystemctlShow(out string) map[string]any {
	parsed := map[string]any{}
	var multi []string
	key := ""
	for _, line := range strings.Split(out, "\n") {
		if key == "" {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			if strings.HasPrefix(k, "Exec") && strings.HasPrefix(strings.TrimLeft(v, " \t"), "{") && !strings.HasSuffix(strings.TrimRight(v, " \t"), "}") {
				key = k
				multi = append(multi, v)
				continue
			}
			parsed[k] = strings.TrimSpace(v)
			continue
		}
		multi = append(multi, line)
		if strings.HasSuffix(strings.TrimRight(line, " \t"), "}") {
			parsed[key] = strings.TrimSpace(strings.Join(multi, "\n"))
			multi, key = nil, ""
		}
	}
	return parsed
}

// sysv is the service module's LinuxService logic for hosts without
// systemd: the service command or the init script to control the
// service, update-rc.d or chkconfig to enable it.
func (s *svcTask) sysv(ctx context.Context) (Result, error) {
	o := s.o
	name := s.name
	tool := func(b string) string { v, _ := s.recs.get("bin_" + b); return v }
	initscript, _ := s.recs.get("initscript")
	enableCmd := ""
	if initscript != "" {
		for _, b := range []string{"update-rc.d", "insserv", "chkconfig"} {
			if tool(b) != "" {
				enableCmd = b
				break
			}
		}
	}
	if enableCmd == "" {
		return failedResult(fmt.Sprintf("Could not find the requested service %s: host", name), nil), nil
	}
	svcCmd := tool("service")
	if svcCmd == "" && initscript == "" {
		return failedResult("cannot find 'service' binary or init script for service,  possible typo in service name?, aborting", nil), nil
	}
	fields := map[string]any{"name": name}
	res := Result{Fields: fields}
	var acts []string // shell commands, run in order, each stopping the rest when it fails
	q := shellQuoteAlways(name)
	if o.has("enabled") {
		want := o.boolean("enabled")
		fields["enabled"] = want
		switch enableCmd {
		case "update-rc.d":
			_, enabled := s.recs.get("slink")
			if enabled != want {
				res.Changed = true
				verb := "disable"
				if want {
					verb = "enable"
					if _, k := s.recs.get("klink"); !k {
						acts = append(acts, fmt.Sprintf("%s %s defaults", shellQuoteAlways(tool("update-rc.d")), q))
					}
				}
				acts = append(acts, fmt.Sprintf("%s %s %s", shellQuoteAlways(tool("update-rc.d")), q, verb))
			}
		case "chkconfig":
			verb := "off"
			if want {
				verb = "on"
			}
			list := s.out("chklist")
			if !strings.Contains(list, name) {
				return failedResult(fmt.Sprintf("service %s does not support chkconfig", name), nil), nil
			}
			if !(strings.Contains(list, "3:"+verb) && strings.Contains(list, "5:"+verb)) {
				if s.c.Check {
					// LinuxService stops here in check mode.
					return Result{Changed: true, Fields: map[string]any{}}, nil
				}
				res.Changed = true
				acts = append(acts, fmt.Sprintf("%s %s %s", shellQuoteAlways(tool("chkconfig")), q, verb))
			}
		default:
			return failedResult(fmt.Sprintf("fleet's service module cannot enable services with %s; use update-rc.d or chkconfig hosts", enableCmd), nil), nil
		}
	}
	if !o.has("state") {
		return s.sysvAct(ctx, res, acts, nil)
	}
	want := o.str("state")
	fields["state"] = want
	running, known := sysvRunning(name, s.rc("status"), s.out("status"))
	if !known {
		return failedResult("failed determining service state, possible typo of service name?", nil), nil
	}
	change := !running && (want == "reloaded" || want == "started") || running && (want == "reloaded" || want == "stopped") || want == "restarted"
	if change && s.c.Check {
		return Result{Changed: true, Msg: "service state changed", Fields: map[string]any{}}, nil
	}
	ctl := shellQuoteAlways(svcCmd) + " " + q
	if svcCmd == "" {
		ctl = shellQuoteAlways(initscript)
	}
	args := o.str("arguments")
	var stateActs []string
	if change {
		verb := ""
		switch {
		case want == "started", !running && want == "reloaded":
			verb = "start"
		case want == "stopped":
			verb = "stop"
		case want == "reloaded":
			verb = "reload"
		}
		if want == "restarted" {
			stateActs = []string{ctl + " stop " + args, ctl + " start " + args}
		} else {
			stateActs = []string{ctl + " " + verb + " " + args}
		}
	}
	res.Changed = res.Changed || change
	if want == "stopped" {
		fields["state"] = "stopped"
	} else {
		fields["state"] = "started"
	}
	return s.sysvAct(ctx, res, acts, stateActs)
}

// sysvAct runs the planned enable commands (acts) and state commands
// and turns their failures into Ansible's messages. A restart is stop
// then start, and fails only when the start fails after a working stop
// or both fail.
func (s *svcTask) sysvAct(ctx context.Context, res Result, acts, stateActs []string) (Result, error) {
	if s.c.Check || len(acts)+len(stateActs) == 0 {
		return res, nil
	}
	var body strings.Builder
	for i, a := range acts {
		fmt.Fprintf(&body, "fleet_do e%d sh -c %s\n", i, shellQuoteAlways(a))
		fmt.Fprintf(&body, "if [ \"$(fleet_last_rc e%d)\" != 0 ]; then fleet_rec done 1; exit 0; fi\n", i)
	}
	for i, a := range stateActs {
		if i > 0 && s.o.integer("sleep") > 0 {
			fmt.Fprintf(&body, "sleep %d\n", s.o.integer("sleep"))
		}
		fmt.Fprintf(&body, "fleet_do s%d sh -c %s\n", i, shellQuoteAlways(a))
	}
	recs, fail, err := s.svcRun(ctx, body.String())
	if err != nil || fail != nil {
		return derefResult(fail), err
	}
	s.recs = recs
	for i := range acts {
		key := fmt.Sprintf("e%d", i)
		if rc := s.rc(key); rc != 0 {
			msg := s.errOut(key)
			if msg == "" {
				msg = s.out(key)
			}
			return failedResult(msg, nil), nil
		}
	}
	rc, out, errText := 0, "", ""
	switch len(stateActs) {
	case 1:
		rc, out, errText = s.rc("s0"), s.out("s0"), s.errOut("s0")
	case 2:
		rc1, rc2 := s.rc("s0"), s.rc("s1")
		if rc1 != 0 && rc2 == 0 {
			rc, out, errText = rc2, s.out("s1"), s.errOut("s1")
		} else {
			rc, out, errText = rc1+rc2, s.out("s0")+s.out("s1"), s.errOut("s0")+s.errOut("s1")
		}
	}
	if rc != 0 && !strings.Contains(errText, "Job is already running") {
		if errText != "" {
			return failedResult(errText, nil), nil
		}
		return failedResult(out, nil), nil
	}
	return res, nil
}

// sysvRunning decides from `service NAME status` whether the service
// runs, as LinuxService.get_service_status does; known is false when
// it cannot tell.
func sysvRunning(name string, rc int, stdout string) (running, known bool) {
	switch rc {
	case 1, 2, 3, 4, 69:
		return false, true
	}
	if strings.Count(stdout, "\n") <= 1 {
		clean := strings.ReplaceAll(strings.ToLower(stdout), strings.ToLower(name), "")
		switch {
		case strings.Contains(clean, "stop"):
			return false, true
		case strings.Contains(clean, "run"):
			return !strings.Contains(clean, "not "), true
		case strings.Contains(clean, "start") && !strings.Contains(clean, "not "):
			return true, true
		case strings.Contains(clean, "could not access pid file"),
			strings.Contains(clean, "is dead and pid file exists"),
			strings.Contains(clean, "dead but subsys locked"),
			strings.Contains(clean, "dead but pid file exists"):
			return false, true
		}
	}
	if rc == 0 {
		return true, true
	}
	if name == "iptables" && strings.Contains(stdout, "ACCEPT") {
		return true, true
	}
	return false, false
}
