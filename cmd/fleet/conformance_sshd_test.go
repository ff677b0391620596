package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"fleetrun.dev/fleet/internal/sshdtest"
)

// conformanceDir holds the playbooks that must run the same under
// ansible-playbook and fleet play (issue 5, acceptance 2).
const conformanceDir = "../../testdata/conformance"

// requireAnsibleEnv turns a missing ansible-playbook from a skip into a
// failure, as CI sets it after installing Debian's ansible package.
const requireAnsibleEnv = "FLEET_REQUIRE_ANSIBLE"

// selfCheckEnv, set to 1, makes TestSSHDConformance run ansible-playbook
// in place of fleet play: a new playbook must pass that way, which shows
// that its recap and files do not depend on timing, pids or paths.
const selfCheckEnv = "FLEET_CONFORMANCE_SELF_CHECK"

// conformanceCase is one playbook and what its header comment asks of the
// harness. The header is the file's leading `# key: value` lines:
//
//	# hosts: 5                      hosts in the inventory (default 3)
//	# args: --tags deploy          extra command-line arguments for both tools;
//	                               $DIR stands for the playbooks' directory
//	# sudo: yes                    the login user may sudo without a password
//	# unreachable: h4              inventory hosts that point at a closed port
//	# recap h1: ok=3 changed=1     the PLAY RECAP row Ansible must print for h1
//	                               (counts left out are 0); every host needs one
//	# recap h4: none               h4 must have no row (it never ran a task)
type conformanceCase struct {
	name, path  string
	hosts       int
	args        []string
	sudo        bool
	unreachable map[string]bool
	recap       map[string]recapRow
	norecap     map[string]bool
}

// recapRow is one host's PLAY RECAP counts.
type recapRow struct {
	OK, Changed, Unreachable, Failed, Skipped, Rescued, Ignored int
}

func (r recapRow) String() string {
	return fmt.Sprintf("ok=%d changed=%d unreachable=%d failed=%d skipped=%d rescued=%d ignored=%d",
		r.OK, r.Changed, r.Unreachable, r.Failed, r.Skipped, r.Rescued, r.Ignored)
}

// parseCounts reads "ok=3 changed=1 ..." into a row; names left out are 0.
func parseCounts(s string) (recapRow, error) {
	var r recapRow
	fields := map[string]*int{"ok": &r.OK, "changed": &r.Changed, "unreachable": &r.Unreachable,
		"failed": &r.Failed, "skipped": &r.Skipped, "rescued": &r.Rescued, "ignored": &r.Ignored}
	for _, f := range strings.Fields(s) {
		name, val, ok := strings.Cut(f, "=")
		p := fields[name]
		n, err := strconv.Atoi(val)
		if !ok || p == nil || err != nil {
			return r, fmt.Errorf("bad count %q (want name=N with name one of ok, changed, unreachable, failed, skipped, rescued, ignored)", f)
		}
		*p = n
	}
	return r, nil
}

var headerLine = regexp.MustCompile(`^#\s*([a-z_]+)(?:\s+(\S+))?:\s*(.*?)\s*$`)

// loadConformanceCase reads a playbook's header.
func loadConformanceCase(t *testing.T, path string) conformanceCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := conformanceCase{
		name:        strings.TrimSuffix(filepath.Base(path), ".yml"),
		path:        path,
		hosts:       3,
		unreachable: map[string]bool{},
		recap:       map[string]recapRow{},
		norecap:     map[string]bool{},
	}
	for i, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		m := headerLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		bad := func(err error) {
			t.Fatalf("%s:%d: header %q: %v", path, i+1, line, err)
		}
		switch key, arg, val := m[1], m[2], m[3]; key {
		case "hosts":
			if c.hosts, err = strconv.Atoi(val); err != nil || c.hosts < 1 {
				bad(fmt.Errorf("want a host count"))
			}
		case "args":
			dir, err := filepath.Abs(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			c.args = append(c.args, strings.Fields(strings.ReplaceAll(val, "$DIR", dir))...)
		case "sudo":
			c.sudo = val == "yes"
		case "unreachable":
			for _, h := range strings.Fields(val) {
				c.unreachable[h] = true
			}
		case "recap":
			if val == "none" && arg != "" {
				c.norecap[arg] = true
				continue
			}
			row, err := parseCounts(val)
			if err != nil || arg == "" {
				bad(fmt.Errorf("want `# recap HOST: ok=N ...`: %v", err))
			}
			c.recap[arg] = row
		}
	}
	return c
}

// TestSSHDConformance runs every playbook in testdata/conformance with the
// real ansible-playbook and with fleet play, each against its own fresh
// real-sshd hosts and empty per-host roots, and requires the same PLAY
// RECAP counts per host and the same files (content, mode, owner, symlink
// targets) under every host's root and under the controller's local_root.
// Ansible's own recap must also be the one the playbook's header promises,
// so that a playbook that stopped testing what it was written for is seen.
//
// Each playbook's two runs go at once, on separate hosts. `go test -run
// TestSSHDConformance/07 -v ./cmd/fleet/` shows Ansible's recap and the
// files it left, whatever fleet's half does.
func TestSSHDConformance(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(conformanceDir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no playbooks in %s", conformanceDir)
	}
	for _, path := range files {
		c := loadConformanceCase(t, path)
		t.Run(c.name, func(t *testing.T) {
			// As many playbooks at once as -parallel allows (GOMAXPROCS by
			// default).
			t.Parallel()
			ansible := requireAnsible(t)
			sshdtest.Require(t)
			if c.sudo {
				sshdtest.EnableSudo(t, "")
			}
			for i := 1; i <= c.hosts; i++ {
				if _, ok := c.recap[fmt.Sprintf("h%d", i)]; !ok && !c.norecap[fmt.Sprintf("h%d", i)] {
					t.Fatalf("%s: no `# recap h%d: ...` header line", c.path, i)
				}
			}

			// Both tools run at once, each on its own hosts: most of a
			// run is waiting on processes and connections, not CPU.
			ansibleSide, fleetSide := newPlayLab(t, c.hosts, c.unreachable), newPlayLab(t, c.hosts, c.unreachable)
			var fleetRun fleetResult
			var wg sync.WaitGroup
			defer wg.Wait() // also when the Ansible half ends the test
			wg.Add(1)
			tool := "fleet play"
			if os.Getenv(selfCheckEnv) == "1" {
				tool = "ansible-playbook (self-check)"
			}
			go func() {
				defer wg.Done()
				if os.Getenv(selfCheckEnv) == "1" {
					fleetRun = fleetSide.ansiblePlay(t, ansible, c.path, c.args...)
					return
				}
				fleetRun = fleetSide.runFleet(t, c)
			}()
			want := ansibleSide.runAnsible(t, ansible, c)
			t.Logf("ansible-playbook exit %d; recap:\n%s", want.code, want.recapText())
			t.Logf("ansible files:\n%s", want.filesText())
			for host, row := range c.recap {
				if got, ok := want.recap[host]; !ok || got != row {
					t.Errorf("ansible-playbook's recap for %s is %v, the header of %s says %v", host, got, c.name, row)
				}
			}
			for host := range c.norecap {
				if got, ok := want.recap[host]; ok {
					t.Errorf("ansible-playbook's recap has %s: %v; the header of %s says none", host, got, c.name)
				}
			}
			wg.Wait()
			if t.Failed() {
				t.Fatalf("ansible-playbook output:\n%s", want.output)
			}
			got := fleetSide.outcome(t, tool, fleetRun.code, fleetRun.stdout+fleetRun.stderr)
			compareOutcomes(t, want, got)
		})
	}
}

// requireAnsible returns the path of ansible-playbook, or skips the test
// (fails it when FLEET_REQUIRE_ANSIBLE=1).
func requireAnsible(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ansible-playbook")
	if err != nil {
		msg := "ansible-playbook not found: install Debian's ansible package to compare fleet play with it"
		if os.Getenv(requireAnsibleEnv) == "1" {
			t.Fatalf("%s (a failure because %s=1)", msg, requireAnsibleEnv)
		}
		t.Skipf("%s; set %s=1 to make this a failure", msg, requireAnsibleEnv)
	}
	return p
}

// playLab is a set of fresh sshd hosts for a playbook run: an inventory
// naming them h1..hN (groups web, the first half, and db, the rest), each
// with an empty `root` directory of its own and a `scratch` directory (for
// temp files, not compared), and an empty local_root on the controller.
// Each tool of a conformance test gets its own.
type playLab struct {
	lab       *sshdLab
	hosts     []string
	servers   map[string]*sshdtest.Server // reachable hosts only
	roots     map[string]string
	localRoot string
	dir       string

	stopMastersOnce sync.Once
}

// newPlayLab starts the hosts of a lab of n hosts; those named in
// unreachable point at a closed port instead.
func newPlayLab(t *testing.T, n int, unreachable map[string]bool) *playLab {
	t.Helper()
	s := &playLab{
		lab:       newSSHDLab(t, n-len(unreachable), sshdtest.Options{}),
		servers:   map[string]*sshdtest.Server{},
		roots:     map[string]string{},
		localRoot: t.TempDir(),
		dir:       t.TempDir(),
	}
	s.lab.write(t) // the ssh_config; the inventory is replaced below
	closedPort := closedPort(t)

	colors := []string{"red", "green", "blue", "cyan", "magenta", "yellow", "white", "black"}
	var inv strings.Builder
	fmt.Fprintf(&inv, `all:
  vars:
    site: conformance
    ansible_python_interpreter: /usr/bin/python3
    ansible_ssh_private_key_file: %s
    ansible_ssh_common_args: -o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o IdentityAgent=none -o ConnectTimeout=5
  hosts:
`, sshdtest.ClientKeyPath(), s.lab.knownHosts)
	next := 0
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("h%d", i)
		s.hosts = append(s.hosts, name)
		fmt.Fprintf(&inv, "    %s:\n      idx: %d\n      color: %s\n", name, i, colors[(i-1)%len(colors)])
		if unreachable[name] {
			fmt.Fprintf(&inv, "      ansible_host: 127.0.0.1\n      ansible_port: %d\n      ansible_user: nobody\n      root: /nonexistent/%s\n      scratch: /nonexistent/%s\n",
				closedPort, name, name)
			continue
		}
		srv := s.lab.servers[next]
		next++
		s.servers[name] = srv
		s.roots[name] = remoteBase(t, srv)
		fmt.Fprintf(&inv, "      ansible_host: %s\n      ansible_port: %d\n      ansible_user: %s\n      root: %s\n      scratch: %s\n",
			srv.Addr(), srv.Port(), srv.User(), s.roots[name], remoteBase(t, srv))
	}
	// web is the first half (rounded up), db the rest.
	half := (n + 1) / 2
	inv.WriteString("  children:\n    web:\n      vars:\n        tier: front\n      hosts:\n")
	for _, h := range s.hosts[:half] {
		fmt.Fprintf(&inv, "        %s:\n", h)
	}
	if half < n {
		inv.WriteString("    db:\n      vars:\n        tier: back\n      hosts:\n")
		for _, h := range s.hosts[half:] {
			fmt.Fprintf(&inv, "        %s:\n", h)
		}
	}
	writeFile(t, s.lab.inventory, inv.String())
	return s
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// playOutcome is what one tool's run left: its exit code and output, the
// recap it printed and the files on every host and the controller.
type playOutcome struct {
	tool   string
	code   int
	output string
	recap  map[string]recapRow
	files  map[string]map[string]string // host → relative path → description
	local  map[string]string
}

func (o playOutcome) recapText() string {
	var hosts []string
	for h := range o.recap {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	var b strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&b, "  %-4s %v\n", h, o.recap[h])
	}
	return b.String()
}

func (o playOutcome) filesText() string {
	var b strings.Builder
	section := func(name string, files map[string]string) {
		var paths []string
		for p := range files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		fmt.Fprintf(&b, "  %s:\n", name)
		for _, p := range paths {
			fmt.Fprintf(&b, "    %s: %s\n", p, files[p])
		}
	}
	var hosts []string
	for h := range o.files {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		section(h, o.files[h])
	}
	section("local_root", o.local)
	return b.String()
}

// ansibleEnv is the environment of ansible-playbook: the test's own without
// any ANSIBLE_ settings, plus settings that make runs quiet and repeatable.
// Host keys are checked against the test's known_hosts (through
// ansible_ssh_common_args); connections are shared per host, with their
// sockets in dir so the test can stop them.
func ansibleEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ANSIBLE_") {
			env = append(env, kv)
		}
	}
	cfg := filepath.Join(dir, "ansible.cfg")
	os.WriteFile(cfg, nil, 0o644)
	cp := filepath.Join(dir, "cp")
	os.Mkdir(cp, 0o700)
	return append(env,
		"ANSIBLE_CONFIG="+cfg,
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_SSH_CONTROL_PATH_DIR="+cp,
		"ANSIBLE_SSH_ARGS=-o ControlMaster=auto -o ControlPersist=60s",
		"ANSIBLE_HOST_KEY_CHECKING=True",
		"ANSIBLE_PIPELINING=True",
		"ANSIBLE_FORKS=10",
		"ANSIBLE_TIMEOUT=10",
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_NOCOWS=1",
		"ANSIBLE_RETRY_FILES_ENABLED=False",
		"ANSIBLE_STDOUT_CALLBACK=default",
		"ANSIBLE_DEPRECATION_WARNINGS=False",
		"ANSIBLE_SYSTEM_WARNINGS=False",
		"ANSIBLE_LOCALHOST_WARNING=False",
		"ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3",
	)
}

// runAnsible runs ansible-playbook on the side's hosts.
func (s *playLab) runAnsible(t *testing.T, bin string, c conformanceCase) playOutcome {
	t.Helper()
	r := s.ansiblePlay(t, bin, c.path, c.args...)
	if r.code < 0 {
		t.Fatal(r.stderr)
	}
	return s.outcome(t, "ansible-playbook", r.code, r.stdout)
}

// ansiblePlay runs `ansible-playbook -i INVENTORY -e local_root=DIR ARGS...
// PATH` on the lab's hosts, with its output (stdout and stderr) in stdout.
// When it cannot run or times out, the code is -1 and stderr says why. It
// may run on a goroutine of its own.
func (s *playLab) ansiblePlay(t *testing.T, bin, path string, args ...string) fleetResult {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"-i", s.lab.inventory, "-e", "local_root=" + s.localRoot}, args...)
	abs, err := filepath.Abs(path)
	if err != nil {
		return fleetResult{code: -1, stderr: err.Error()}
	}
	cmd := exec.CommandContext(ctx, bin, append(full, abs)...)
	cmd.Dir = s.dir
	cmd.Env = ansibleEnv(s.dir)
	// Its own process group, so that a timeout kills its workers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	s.stopMastersOnce.Do(func() { t.Cleanup(func() { s.stopAnsibleMasters(t) }) })
	start := time.Now()
	out, err := cmd.CombinedOutput()
	r := fleetResult{stdout: string(out), elapsed: time.Since(start)}
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			return fleetResult{code: -1, stderr: fmt.Sprintf("ansible-playbook %s %s: %v (%v)\n%s",
				strings.Join(full, " "), abs, err, ctx.Err(), out)}
		}
		r.code = exit.ExitCode()
	}
	return r
}

// stopAnsibleMasters ends the ssh ControlPersist masters ansible-playbook
// left behind, each through its own socket.
func (s *playLab) stopAnsibleMasters(t *testing.T) {
	socks, _ := filepath.Glob(filepath.Join(s.dir, "cp", "*"))
	for _, sock := range socks {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, "ssh", "-o", "ControlPath="+sock, "-O", "exit", "conformance-host").CombinedOutput()
		cancel()
		if err != nil {
			t.Logf("stop ansible's ssh master %s: %v: %s", sock, err, out)
		}
	}
}

// runFleet runs fleet play in-process on the lab's hosts. It may run on a
// goroutine of its own: it only logs.
func (s *playLab) runFleet(t *testing.T, c conformanceCase) fleetResult {
	t.Helper()
	return s.play(t, c.path, c.args...)
}

// play runs `fleet play PATH -e local_root=DIR ARGS...` in-process on the
// lab's hosts.
func (s *playLab) play(t *testing.T, path string, args ...string) fleetResult {
	t.Helper()
	full := append([]string{"play", path, "-e", "local_root=" + s.localRoot}, args...)
	return s.lab.fleet(t, full...)
}

func (s *playLab) outcome(t *testing.T, tool string, code int, output string) playOutcome {
	t.Helper()
	o := playOutcome{tool: tool, code: code, output: output, recap: parseRecap(output),
		files: map[string]map[string]string{}}
	for host, root := range s.roots {
		o.files[host] = snapshotTree(t, root)
	}
	o.local = snapshotTree(t, s.localRoot)
	return o
}

var recapLine = regexp.MustCompile(`^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)\s*$`)

// parseRecap reads the rows after the last PLAY RECAP header.
func parseRecap(output string) map[string]recapRow {
	rows := map[string]recapRow{}
	inRecap := false
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "PLAY RECAP ") {
			inRecap = true
			rows = map[string]recapRow{}
			continue
		}
		m := recapLine.FindStringSubmatch(line)
		if !inRecap || m == nil {
			continue
		}
		n := make([]int, 7)
		for i := range n {
			n[i], _ = strconv.Atoi(m[i+2])
		}
		rows[m[1]] = recapRow{n[0], n[1], n[2], n[3], n[4], n[5], n[6]}
	}
	return rows
}

// backupName matches the name copy and template give a backup:
// dest.PID.YYYY-MM-DD@HH:MM:SS~, as Ansible's module_utils makes it.
var backupName = regexp.MustCompile(`^(.+)\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$`)

// snapshotTree describes everything under root by its path relative to
// root: type, mode, owner and group, and a regular file's SHA-256 or a
// symlink's target. Modification times are left out. Backups, whose names
// hold a pid and a time, are listed under "BASE.~backups~" by their
// sorted descriptions, so they compare by count and content.
func snapshotTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	backups := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %s", fi.Mode(), ownerOf(fi))
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if strings.HasPrefix(target, root+"/") {
				target = "ROOT/" + strings.TrimPrefix(target, root+"/")
			}
			desc += " -> " + target
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" sha256:%x", sha256.Sum256(data))
			if len(data) <= 2000 {
				desc += fmt.Sprintf(" %q", data)
			}
		}
		if m := backupName.FindStringSubmatch(d.Name()); m != nil {
			key := filepath.Join(filepath.Dir(rel), m[1]) + ".~backups~"
			backups[key] = append(backups[key], desc)
			return nil
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	for k, v := range backups {
		sort.Strings(v)
		out[k] = fmt.Sprintf("%d backups: %s", len(v), strings.Join(v, " | "))
	}
	return out
}

// ownerOf names a file's owner and group, as user:group.
func ownerOf(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	uid, gid := strconv.Itoa(int(st.Uid)), strconv.Itoa(int(st.Gid))
	if u, err := user.LookupId(uid); err == nil {
		uid = u.Username
	}
	if g, err := user.LookupGroupId(gid); err == nil {
		gid = g.Name
	}
	return uid + ":" + gid
}

// compareOutcomes requires fleet's outcome to be Ansible's: recap rows,
// success or failure, and every host's files and the controller's.
func compareOutcomes(t *testing.T, want, got playOutcome) {
	t.Helper()
	if (want.code == 0) != (got.code == 0) {
		t.Errorf("%s exited %d, %s exited %d", got.tool, got.code, want.tool, want.code)
	}
	for host, w := range want.recap {
		if g, ok := got.recap[host]; !ok {
			t.Errorf("%s: no recap row from %s; %s has %v", host, got.tool, want.tool, w)
		} else if g != w {
			t.Errorf("%s: %s recap %v\n%*s want %v (%s)", host, got.tool, g, len(host)+len(got.tool)+1, "", w, want.tool)
		}
	}
	for host := range got.recap {
		if _, ok := want.recap[host]; !ok {
			t.Errorf("%s: recap row from %s, none from %s", host, got.tool, want.tool)
		}
	}
	for host, w := range want.files {
		compareTrees(t, host, want.tool, got.tool, w, got.files[host])
	}
	compareTrees(t, "local_root", want.tool, got.tool, want.local, got.local)
	if t.Failed() {
		t.Logf("%s output (exit %d):\n%s", want.tool, want.code, want.output)
		t.Logf("%s output (exit %d):\n%s", got.tool, got.code, got.output)
	}
}

func compareTrees(t *testing.T, where, wantTool, gotTool string, want, got map[string]string) {
	t.Helper()
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		w, inWant := want[p]
		g, inGot := got[p]
		switch {
		case !inGot:
			t.Errorf("%s: %s: missing after %s; %s left %s", where, p, gotTool, wantTool, w)
		case !inWant:
			t.Errorf("%s: %s: left by %s (%s), not by %s", where, p, gotTool, g, wantTool)
		case g != w:
			t.Errorf("%s: %s:\n  %s: %s\n  %s: %s", where, p, gotTool, g, wantTool, w)
		}
	}
}

// conformanceRequired lists what the conformance playbooks must use
// between them: every play and task keyword, module and module argument
// fleet play supports (issue 5), the command-line selections, and every
// kind of recap count. TestConformanceCoverage names what is missing.
var conformanceRequired = []string{
	"play:name", "play:hosts", "play:vars", "play:vars_files", "play:gather_facts",
	"play:become", "play:become_user", "play:become_method=sudo",
	"play:serial=int", "play:serial=percent", "play:serial=list",
	"play:strategy=linear", "play:strategy=free", "play:max_fail_percentage",
	"play:any_errors_fatal", "play:pre_tasks", "play:tasks", "play:post_tasks",
	"play:handlers", "play:environment", "play:tags",

	"task:name", "task:when", "task:register", "task:loop", "task:with_items",
	"task:loop_control.loop_var", "task:notify", "task:listen", "task:tags",
	"tag:always", "tag:never", "task:ignore_errors", "task:changed_when",
	"task:failed_when", "task:timeout", "task:retries", "task:until", "task:delay",
	"task:run_once", "task:delegate_to=localhost", "task:become", "task:become_user",
	"task:environment", "task:vars", "task:block", "task:rescue", "task:always",
	"task:import_tasks", "task:include_tasks", "form:free", "form:dict", "form:args",

	"module:command", "module:shell", "module:script", "module:debug", "module:set_fact",
	"module:assert", "module:fail", "module:meta=flush_handlers", "module:copy",
	"module:template", "module:file", "module:fetch", "module:lineinfile", "module:stat",
	"module:wait_for", "module:service", "module:systemd", "module:ansible.builtin",

	"arg:command.creates", "arg:command.removes", "arg:command.chdir", "arg:command.cmd",
	"arg:copy.src", "arg:copy.content", "arg:copy.dest", "arg:copy.mode",
	"arg:copy.owner", "arg:copy.group", "arg:copy.backup",
	"arg:template.src", "arg:template.dest", "arg:template.mode",
	"arg:file.state=file", "arg:file.state=directory", "arg:file.state=absent",
	"arg:file.state=touch", "arg:file.state=link", "arg:file.mode", "arg:file.owner",
	"arg:file.group", "arg:file.recurse", "arg:fetch.src", "arg:fetch.dest",
	"arg:lineinfile.path", "arg:lineinfile.line", "arg:lineinfile.regexp",
	"arg:lineinfile.state=absent", "arg:lineinfile.create", "arg:stat.path",
	"arg:wait_for.port", "arg:wait_for.path", "arg:wait_for.timeout",
	"arg:service.state", "arg:service.enabled", "arg:systemd.state", "arg:systemd.enabled",

	"template:hostvars", "template:groups", "template:ansible_check_mode",

	"cli:--tags", "cli:--skip-tags", "cli:--check", "cli:--diff", "cli:-e",
	"cli:--limit", "cli:--start-at-task", "cli:--forks",

	"recap:changed", "recap:failed", "recap:skipped", "recap:rescued",
	"recap:ignored", "recap:unreachable", "recap:none",
}

// taskKeywords are the keys of a task that are not its module.
var taskKeywords = map[string]bool{
	"name": true, "when": true, "register": true, "loop": true, "with_items": true,
	"loop_control": true, "notify": true, "listen": true, "tags": true,
	"ignore_errors": true, "changed_when": true, "failed_when": true, "timeout": true,
	"retries": true, "until": true, "delay": true, "run_once": true, "delegate_to": true,
	"become": true, "become_user": true, "become_method": true, "environment": true,
	"vars": true, "args": true, "block": true, "rescue": true, "always": true,
	"any_errors_fatal": true,
}

var freeFormArg = regexp.MustCompile(`(?:^|\s)([a-z_]+)=(\S*)`)

// coverageOf records what one task list uses, recursing into blocks.
func coverageOf(used map[string]bool, tasks []map[string]any) {
	for _, task := range tasks {
		module := ""
		var args map[string]any
		for key, val := range task {
			if taskKeywords[key] {
				used["task:"+key] = true
				continue
			}
			module = key
			if short, ok := strings.CutPrefix(key, "ansible.builtin."); ok {
				used["module:ansible.builtin"] = true
				module = short
			}
			switch v := val.(type) {
			case string:
				used["form:free"] = true
				args = map[string]any{}
				for _, m := range freeFormArg.FindAllStringSubmatch(v, -1) {
					args[m[1]] = m[2]
				}
				if module == "meta" {
					used["module:meta="+v] = true
				}
			case map[string]any:
				used["form:dict"] = true
				args = v
			}
		}
		if extra, ok := task["args"].(map[string]any); ok {
			used["form:args"] = true
			if args == nil {
				args = map[string]any{}
			}
			for k, v := range extra {
				args[k] = v
			}
		}
		if module != "" {
			used["module:"+module] = true
			if module == "import_tasks" || module == "include_tasks" {
				used["task:"+module] = true
			}
		}
		for k, v := range args {
			used["arg:"+module+"."+k] = true
			if k == "state" {
				used[fmt.Sprintf("arg:%s.state=%v", module, v)] = true
			}
		}
		if lc, ok := task["loop_control"].(map[string]any); ok {
			for k := range lc {
				used["task:loop_control."+k] = true
			}
		}
		if d, ok := task["delegate_to"].(string); ok {
			used["task:delegate_to="+d] = true
		}
		switch tags := task["tags"].(type) {
		case string:
			used["tag:"+tags] = true
		case []any:
			for _, tag := range tags {
				used[fmt.Sprintf("tag:%v", tag)] = true
			}
		}
		for _, section := range []string{"block", "rescue", "always"} {
			coverageOf(used, taskList(task[section]))
		}
	}
}

func taskList(v any) []map[string]any {
	var out []map[string]any
	list, _ := v.([]any)
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// TestConformanceCoverage checks, without any host, that the conformance
// playbooks together use every supported keyword, module, argument and
// command-line selection, and every kind of recap count (acceptance 2
// asks for at least 15 playbooks that use all of them).
func TestConformanceCoverage(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(conformanceDir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Errorf("%d playbooks in %s, want at least 15", len(files), conformanceDir)
	}
	used := map[string]bool{}
	for _, path := range files {
		c := loadConformanceCase(t, path)
		for _, arg := range c.args {
			if strings.HasPrefix(arg, "-") {
				used["cli:"+arg] = true
			}
		}
		for _, row := range c.recap {
			for name, n := range map[string]int{"changed": row.Changed, "failed": row.Failed,
				"skipped": row.Skipped, "rescued": row.Rescued, "ignored": row.Ignored, "unreachable": row.Unreachable} {
				if n > 0 {
					used["recap:"+name] = true
				}
			}
		}
		if len(c.norecap) > 0 {
			used["recap:none"] = true
		}
		var plays []map[string]any
		if err := yaml.Unmarshal([]byte(readFile(t, path)), &plays); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, play := range plays {
			for key, val := range play {
				used["play:"+key] = true
				switch key {
				case "serial":
					switch v := val.(type) {
					case int:
						used["play:serial=int"] = true
					case string:
						if strings.HasSuffix(v, "%") {
							used["play:serial=percent"] = true
						}
					case []any:
						used["play:serial=list"] = true
					}
				case "strategy", "become_method":
					used[fmt.Sprintf("play:%s=%v", key, val)] = true
				case "tasks", "pre_tasks", "post_tasks", "handlers":
					coverageOf(used, taskList(val))
				}
			}
			if _, ok := play["strategy"]; !ok {
				used["play:strategy=linear"] = true
			}
		}
	}
	taskFiles, _ := filepath.Glob(filepath.Join(conformanceDir, "tasks", "*.yml"))
	for _, path := range taskFiles {
		var tasks []any
		if err := yaml.Unmarshal([]byte(readFile(t, path)), &tasks); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		coverageOf(used, taskList(tasks))
	}
	templates, _ := filepath.Glob(filepath.Join(conformanceDir, "templates", "*.j2"))
	for _, path := range templates {
		text := readFile(t, path)
		for _, name := range []string{"hostvars", "groups", "ansible_check_mode"} {
			if strings.Contains(text, name) {
				used["template:"+name] = true
			}
		}
	}
	for _, want := range conformanceRequired {
		if !used[want] {
			t.Errorf("no conformance playbook uses %s", want)
		}
	}
}
