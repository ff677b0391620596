package modules

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// aFakeTools writes fake systemctl, service and update-rc.d into a
// directory put first on f's PATH. They keep their state (unit files,
// running and enabled marks) in files under state/ and log their calls
// to state/calls; init scripts and rc links live under etc/, where
// svcEtc points for the test.
const aFakeSystemctl = `#!/bin/sh
d=$(dirname "$0")/../state
echo "systemctl $*" >> "$d/calls"
while case $1 in --*) true;; *) false;; esac; do shift; done
cmd=$1; name=$2
case $cmd in
show)
  if [ -e "$d/$name.unit" ]; then
    echo "Id=$name.service"; echo "LoadState=loaded"
    if [ -e "$d/$name.active" ]; then echo "ActiveState=active"; else echo "ActiveState=inactive"; fi
    echo "ExecStart={ path=/usr/sbin/$name ; argv[]=/usr/sbin/$name -f ;"
    echo "  ignore_errors=no }"
    echo "Description=The $name server"
  else
    echo "Id=$name.service"; echo "LoadState=not-found"; echo "ActiveState=inactive"
  fi;;
is-enabled)
  if [ -e "$d/$name.masked" ]; then echo masked; exit 1; fi
  if [ -e "$d/$name.enabled" ]; then echo enabled; exit 0; fi
  if [ -e "$d/$name.unit" ]; then echo disabled; exit 1; fi
  echo "Failed to get unit file state for $name.service: No such file or directory" >&2; exit 1;;
list-unit-files) [ -e "$d/$name.unit" ];;
start|restart) [ -e "$d/$name.unit" ] || { echo "Failed to $cmd $name.service: Unit $name.service not found." >&2; exit 5; }; touch "$d/$name.active";;
stop) rm -f "$d/$name.active";;
reload) [ -e "$d/$name.active" ] || { echo "$name.service is not active, cannot reload." >&2; exit 1; };;
enable) touch "$d/$name.enabled";;
disable) rm -f "$d/$name.enabled";;
mask) touch "$d/$name.masked";;
unmask) rm -f "$d/$name.masked";;
daemon-reload) ;;
*) echo "unknown command $cmd" >&2; exit 1;;
esac
`

const aFakeService = `#!/bin/sh
d=$(dirname "$0")/../state
echo "service $*" >> "$d/calls"
name=$1; act=$2
[ -e "$(dirname "$0")/../etc/init.d/$name" ] || { echo "$name: unrecognized service" >&2; exit 1; }
case $act in
status) if [ -e "$d/$name.active" ]; then echo " * $name is running"; exit 0; else echo " * $name is not running"; exit 3; fi;;
start) touch "$d/$name.active"; echo "Starting $name";;
stop) rm -f "$d/$name.active";;
reload) echo "Reloading $name";;
esac
`

const aFakeUpdateRcd = `#!/bin/sh
d=$(dirname "$0")/../state
e=$(dirname "$0")/../etc
echo "update-rc.d $*" >> "$d/calls"
case $2 in
defaults) ln -sf ../init.d/$1 "$e/rc0.d/K01$1";;
enable) rm -f "$e/rc2.d/K01$1"; ln -sf ../init.d/$1 "$e/rc2.d/S01$1";;
disable) rm -f "$e/rc2.d/S01$1"; ln -sf ../init.d/$1 "$e/rc2.d/K01$1";;
esac
`

type aServiceHost struct {
	f    *aConn
	root string
}

func newAServiceHost(t *testing.T, systemd bool) *aServiceHost {
	t.Helper()
	f := newAConn(t)
	root := t.TempDir()
	for _, d := range []string{"bin", "state", "etc/init.d", "etc/rc0.d", "etc/rc2.d", "run"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range map[string]string{"systemctl": aFakeSystemctl, "service": aFakeService, "update-rc.d": aFakeUpdateRcd} {
		if err := os.WriteFile(filepath.Join(root, "bin", name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.env[0] = "PATH=" + filepath.Join(root, "bin") + ":/usr/bin:/bin"
	canaries, pid1, etc := svcSystemdCanaries, svcPID1Comm, svcEtc
	t.Cleanup(func() { svcSystemdCanaries, svcPID1Comm, svcEtc = canaries, pid1, etc })
	svcSystemdCanaries = []string{filepath.Join(root, "nosystemd")}
	if systemd {
		svcSystemdCanaries = []string{filepath.Join(root, "run")}
	}
	svcPID1Comm = filepath.Join(root, "nocomm")
	svcEtc = filepath.Join(root, "etc")
	return &aServiceHost{f: f, root: root}
}

// calls returns the tool calls since the last look, and forgets them.
func (h *aServiceHost) calls(t *testing.T) []string {
	p := filepath.Join(h.root, "state", "calls")
	b, _ := os.ReadFile(p)
	os.Remove(p)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (h *aServiceHost) touch(t *testing.T, rel string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.root, rel), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

type aSvcStep struct {
	name   string
	module string
	args   map[string]any
	check  bool
	want   Result
	fields map[string]any
	calls  []string // the state-changing calls made, in order ("" entries: none)
}

func aRunSvcSteps(t *testing.T, h *aServiceHost, steps []aSvcStep) {
	t.Helper()
	for _, st := range steps {
		r := aRun(t, h.f, st.module, st.args, func(c *Call) { c.Check = st.check })
		if !aSameStatus(r, st.want) {
			t.Errorf("%s: got %v %q, want %+v (fields %v)", st.name, [3]bool{r.Changed, r.Failed, r.Skipped}, r.Msg, st.want, r.Fields)
		}
		for k, v := range st.fields {
			if !reflect.DeepEqual(r.Fields[k], v) {
				t.Errorf("%s: %s = %#v, want %#v", st.name, k, r.Fields[k], v)
			}
		}
		var changing []string
		for _, c := range h.calls(t) {
			f := strings.Fields(c)
			verb := ""
			if len(f) > 2 {
				verb = f[2]
			}
			if f[0] == "systemctl" {
				for _, w := range f[1:] {
					if !strings.HasPrefix(w, "--") {
						verb = w
						break
					}
				}
			}
			switch verb {
			case "show", "is-enabled", "list-unit-files", "status":
				continue
			}
			changing = append(changing, c)
		}
		if !reflect.DeepEqual(changing, st.calls) {
			t.Errorf("%s: calls %q, want %q", st.name, changing, st.calls)
		}
	}
}

func TestSystemdModule(t *testing.T) {
	h := newAServiceHost(t, false)
	h.touch(t, "state/web.unit")
	aRunSvcSteps(t, h, []aSvcStep{
		{name: "start in check mode", module: "systemd", args: map[string]any{"name": "web", "state": "started"}, check: true,
			want: Result{Changed: true}, fields: map[string]any{"state": "started", "name": "web"}},
		{name: "start", module: "systemd", args: map[string]any{"name": "web", "state": "started"},
			want: Result{Changed: true}, fields: map[string]any{"state": "started"}, calls: []string{"systemctl start web"}},
		{name: "started again", module: "systemd", args: map[string]any{"name": "web", "state": "started"},
			want: Result{}},
		{name: "enable", module: "systemd", args: map[string]any{"name": "web", "enabled": "yes", "daemon_reload": true},
			want: Result{Changed: true}, fields: map[string]any{"enabled": true}, calls: []string{"systemctl daemon-reload", "systemctl enable web"}},
		{name: "enabled again", module: "systemd", args: map[string]any{"name": "web", "enabled": true},
			want: Result{}, fields: map[string]any{"enabled": true}},
		{name: "restart", module: "systemd", args: map[string]any{"unit": "web", "state": "restarted"},
			want: Result{Changed: true}, fields: map[string]any{"state": "started"}, calls: []string{"systemctl restart web"}},
		{name: "reload", module: "systemd", args: map[string]any{"name": "web", "state": "reloaded", "no_block": true},
			want: Result{Changed: true}, fields: map[string]any{"state": "started"}, calls: []string{"systemctl --no-block reload web"}},
		{name: "stop and disable", module: "systemd", args: map[string]any{"name": "web", "state": "stopped", "enabled": false},
			want: Result{Changed: true}, fields: map[string]any{"state": "stopped", "enabled": false}, calls: []string{"systemctl disable web", "systemctl stop web"}},
		{name: "mask", module: "systemd", args: map[string]any{"name": "web", "masked": true},
			want: Result{Changed: true}, calls: []string{"systemctl mask web"}},
		{name: "daemon-reload alone", module: "systemd", args: map[string]any{"daemon_reload": true},
			want: Result{}, fields: map[string]any{"name": nil, "status": map[string]any{}}, calls: []string{"systemctl daemon-reload"}},
		{name: "missing unit", module: "systemd", args: map[string]any{"name": "nosuch", "state": "started"},
			want: Result{Failed: true, Msg: "Could not find the requested service nosuch: host"}},
		{name: "nothing asked", module: "systemd", args: map[string]any{"name": "web"},
			want: Result{Failed: true, Msg: "one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec"}},
		{name: "state without name", module: "systemd", args: map[string]any{"state": "started"},
			want: Result{Failed: true, Msg: "missing parameter(s) required by 'state': name"}},
		{name: "glob", module: "systemd", args: map[string]any{"name": "web*", "state": "started"},
			want: Result{Failed: true, Msg: "This module does not currently support using glob patterns, found '*' in service name: web*"}},
	})
	r := aRun(t, h.f, "systemd", map[string]any{"name": "web", "state": "started"})
	st, _ := r.Fields["status"].(map[string]any)
	if st["ExecStart"] != "{ path=/usr/sbin/web ; argv[]=/usr/sbin/web -f ;\n  ignore_errors=no }" || st["Description"] != "The web server" {
		t.Errorf("status = %#v, want systemctl show's properties", st)
	}
}

func TestServiceModuleSysv(t *testing.T) {
	h := newAServiceHost(t, false)
	h.touch(t, "etc/init.d/web")
	aRunSvcSteps(t, h, []aSvcStep{
		{name: "start in check mode", module: "service", args: map[string]any{"name": "web", "state": "started"}, check: true,
			want: Result{Changed: true, Msg: "service state changed"}},
		{name: "start", module: "service", args: map[string]any{"name": "web", "state": "started"},
			want: Result{Changed: true}, fields: map[string]any{"name": "web", "state": "started"}, calls: []string{"service web start"}},
		{name: "started again", module: "service", args: map[string]any{"name": "web", "state": "started"},
			want: Result{}, fields: map[string]any{"state": "started"}},
		{name: "enable in check mode", module: "service", args: map[string]any{"name": "web", "enabled": true}, check: true,
			want: Result{Changed: true}, fields: map[string]any{"enabled": true}},
		{name: "enable", module: "service", args: map[string]any{"name": "web", "enabled": true},
			want: Result{Changed: true}, fields: map[string]any{"enabled": true}, calls: []string{"update-rc.d web defaults", "update-rc.d web enable"}},
		{name: "enabled again", module: "service", args: map[string]any{"name": "web", "enabled": true},
			want: Result{}, fields: map[string]any{"enabled": true}},
		{name: "restart", module: "service", args: map[string]any{"name": "web", "state": "restarted", "enabled": true},
			want: Result{Changed: true}, fields: map[string]any{"state": "started", "enabled": true}, calls: []string{"service web stop", "service web start"}},
		{name: "reload", module: "service", args: map[string]any{"name": "web", "state": "reloaded"},
			want: Result{Changed: true}, calls: []string{"service web reload"}},
		{name: "stop and disable", module: "service", args: map[string]any{"name": "web", "state": "stopped", "enabled": false},
			want: Result{Changed: true}, fields: map[string]any{"state": "stopped", "enabled": false}, calls: []string{"update-rc.d web disable", "service web stop"}},
		{name: "stopped again", module: "service", args: map[string]any{"name": "web", "state": "stopped", "enabled": "no"},
			want: Result{}},
		{name: "unknown service", module: "service", args: map[string]any{"name": "nosuch", "state": "started"},
			want: Result{Failed: true, Msg: "Could not find the requested service nosuch: host"}},
		{name: "nothing asked", module: "service", args: map[string]any{"name": "web"},
			want: Result{Failed: true, Msg: "one of the following is required: state, enabled"}},
	})
}

func TestServiceModuleOnSystemd(t *testing.T) {
	h := newAServiceHost(t, true)
	h.touch(t, "state/web.unit")
	aRunSvcSteps(t, h, []aSvcStep{
		{name: "start", module: "service", args: map[string]any{"name": "web", "state": "started", "enabled": true},
			want: Result{Changed: true}, fields: map[string]any{"state": "started", "enabled": true}, calls: []string{"systemctl enable web", "systemctl start web"}},
		{name: "again", module: "service", args: map[string]any{"name": "web", "state": "started", "enabled": true},
			want: Result{}, fields: map[string]any{"state": "started", "enabled": true}},
	})
	before := h.f.runs()
	aRun(t, h.f, "service", map[string]any{"name": "web", "state": "started"})
	if n := h.f.runs() - before; n != 1 {
		t.Errorf("an unchanged service took %d commands, want 1", n)
	}
}
