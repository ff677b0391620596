package inventory

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"fleetrun.dev/fleet/vars"
)

// The conformance test runs each case in testdata/conformance against fleet
// and against real Ansible, and compares: `ansible-inventory --list`,
// `--graph`, `--host`, and `ansible PATTERN --list-hosts [--limit]`.
//
// With ansible on PATH the expected outputs come from running it live (and
// must also agree with the committed goldens); without it they come from the
// goldens alone. `go test ./inventory -run Conformance -update` rewrites the
// goldens from a live run.
//
// A case directory holds the inventory files and a `cases` file of
// tab-separated lines:
//
//	-i	SOURCE            an inventory source, relative to the case directory
//	hosts	PATTERN [LIMIT]   ansible PATTERN --list-hosts [--limit LIMIT]
//	host	PATTERN           ansible-inventory --host PATTERN
//	graph	GROUP             ansible-inventory --graph GROUP
//	error	TEXT              fleet must refuse the inventory with TEXT in the
//	                          message, where Ansible warns and skips instead
//
// --list is always compared.

var update = flag.Bool("update", false, "rewrite the conformance goldens from a live ansible run")

const conformanceDir = "testdata/conformance"

type confCase struct {
	name    string
	dir     string
	sources []string
	cmds    []confCmd
	wantErr string
}

type confCmd struct {
	kind     string // list, graph, host, hosts
	arg      string
	limit    string
	hasLimit bool
}

// key names the command in the golden file.
func (c confCmd) key() string {
	switch c.kind {
	case "list":
		return "ansible-inventory --list"
	case "graph":
		return "ansible-inventory --graph " + c.arg
	case "host":
		return "ansible-inventory --host " + c.arg
	}
	k := "ansible " + c.arg + " --list-hosts"
	if c.hasLimit {
		k += " --limit " + c.limit
	}
	return k
}

func (c confCmd) argv(sources []string) []string {
	var args []string
	for _, s := range sources {
		args = append(args, "-i", s)
	}
	switch c.kind {
	case "list":
		return append([]string{"ansible-inventory"}, append(args, "--list")...)
	case "graph":
		return append([]string{"ansible-inventory"}, append(args, "--graph", c.arg)...)
	case "host":
		return append([]string{"ansible-inventory"}, append(args, "--host", c.arg)...)
	}
	args = append(args, c.arg, "--list-hosts")
	if c.hasLimit {
		args = append(args, "--limit", c.limit)
	}
	return append([]string{"ansible"}, args...)
}

// result is what Ansible printed for one command.
type result struct {
	exit     int
	stdout   string
	warnings []string
}

func (r result) encode() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "exit: %d\n", r.exit)
	for _, w := range r.warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	b.WriteString("stdout:\n")
	b.WriteString(r.stdout)
	return []byte(b.String())
}

func decodeResult(data []byte) (result, error) {
	var r result
	s := string(data)
	for {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok {
			return r, errors.New("golden entry has no stdout: line")
		}
		s = rest
		switch {
		case strings.HasPrefix(line, "exit: "):
			fmt.Sscanf(line, "exit: %d", &r.exit)
		case strings.HasPrefix(line, "warning: "):
			r.warnings = append(r.warnings, strings.TrimPrefix(line, "warning: "))
		case line == "stdout:":
			r.stdout = s
			return r, nil
		}
	}
}

func loadConfCases(t *testing.T) []*confCase {
	entries, err := os.ReadDir(conformanceDir)
	if err != nil {
		t.Fatal(err)
	}
	var cases []*confCase
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(conformanceDir, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, "cases"))
		if err != nil {
			t.Fatal(err)
		}
		c := &confCase{name: e.Name(), dir: dir}
		c.cmds = append(c.cmds, confCmd{kind: "list"})
		for i, line := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				continue
			}
			f := strings.Split(line, "\t")
			switch {
			case f[0] == "-i" && len(f) == 2:
				c.sources = append(c.sources, f[1])
			case f[0] == "hosts" && len(f) == 2:
				c.cmds = append(c.cmds, confCmd{kind: "hosts", arg: f[1]})
			case f[0] == "hosts" && len(f) == 3:
				c.cmds = append(c.cmds, confCmd{kind: "hosts", arg: f[1], limit: f[2], hasLimit: true})
			case (f[0] == "host" || f[0] == "graph") && len(f) == 2:
				c.cmds = append(c.cmds, confCmd{kind: f[0], arg: f[1]})
			case f[0] == "error" && len(f) == 2:
				c.wantErr = f[1]
			default:
				t.Fatalf("%s/cases:%d: cannot read %q", dir, i+1, line)
			}
		}
		cases = append(cases, c)
	}
	return cases
}

// ansibleEnv isolates Ansible from the machine's configuration.
func ansibleEnv(t *testing.T) []string {
	home := t.TempDir()
	cfg := filepath.Join(home, "ansible.cfg")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
		"ANSIBLE_CONFIG=" + cfg, "ANSIBLE_LOCAL_TEMP=" + filepath.Join(home, "tmp"),
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_PYTHON_INTERPRETER=auto_silent"}
	return env
}

// runAnsible runs every command of every case, a few at a time.
func runAnsible(t *testing.T, cases []*confCase) map[*confCase]map[string]result {
	env := ansibleEnv(t)
	type job struct {
		c   *confCase
		cmd confCmd
	}
	var jobs []job
	out := map[*confCase]map[string]result{}
	for _, c := range cases {
		out[c] = map[string]result{}
		for _, cmd := range c.cmds {
			jobs = append(jobs, job{c, cmd})
		}
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, runtime.NumCPU())
	)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := runOne(t, env, j.c, j.cmd)
			mu.Lock()
			out[j.c][j.cmd.key()] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func runOne(t *testing.T, env []string, c *confCase, cmd confCmd) result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := cmd.argv(c.sources)
	x := exec.CommandContext(ctx, argv[0], argv[1:]...)
	x.Dir = c.dir
	x.Env = env
	var stdout, stderr bytes.Buffer
	x.Stdout, x.Stderr = &stdout, &stderr
	err := x.Run()
	r := result{stdout: stdout.String(), warnings: ansibleWarnings(stderr.String())}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	case err != nil:
		t.Errorf("%s: running %v: %v", c.name, argv, err)
	}
	return r
}

// ansibleWarnings returns the warnings Ansible printed that fleet must
// match, with its line wrapping undone.
func ansibleWarnings(stderr string) []string {
	var blocks []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "[WARNING]: ") || strings.HasPrefix(line, "[DEPRECATION") || strings.HasPrefix(line, "ERROR!") || len(blocks) == 0 {
			blocks = append(blocks, line)
			continue
		}
		// Display wraps warnings at 80 columns with textwrap, which drops
		// the space it breaks at.
		blocks[len(blocks)-1] += " " + line
	}
	var out []string
	for _, b := range blocks {
		if msg, ok := strings.CutPrefix(b, "[WARNING]: Could not match supplied host pattern, ignoring: "); ok {
			out = append(out, "no match: "+strings.TrimSpace(msg))
		} else if strings.HasPrefix(b, "[WARNING]:") && strings.Contains(b, "Failed to parse") {
			out = append(out, "failed to parse")
		} else if strings.HasPrefix(b, "[WARNING]: Skipping") {
			out = append(out, "skipped part of the inventory")
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func readGolden(t *testing.T, c *confCase) map[string]result {
	data, err := os.ReadFile(filepath.Join(c.dir, "golden.txtar"))
	if err != nil {
		t.Fatalf("%s: %v (run the test with ansible installed and -update to create it)", c.name, err)
	}
	out := map[string]result{}
	for _, f := range txtar.Parse(data).Files {
		r, err := decodeResult(f.Data)
		if err != nil {
			t.Fatalf("%s: golden %q: %v", c.name, f.Name, err)
		}
		out[f.Name] = r
	}
	return out
}

func writeGolden(t *testing.T, c *confCase, results map[string]result) {
	ar := &txtar.Archive{Comment: []byte("Outputs of ansible-core " + ansibleVersion(t) + " for the cases in this directory.\nRegenerate with: go test ./inventory -run Conformance -update\n")}
	for _, cmd := range c.cmds {
		ar.Files = append(ar.Files, txtar.File{Name: cmd.key(), Data: results[cmd.key()].encode()})
	}
	if err := os.WriteFile(filepath.Join(c.dir, "golden.txtar"), txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ansibleVersion(t *testing.T) string {
	out, err := exec.Command("ansible", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	first = strings.TrimPrefix(first, "ansible [core ")
	return strings.TrimSuffix(first, "]")
}

func TestConformance(t *testing.T) {
	cases := loadConfCases(t)
	if len(cases) == 0 {
		t.Fatal("no conformance cases")
	}
	_, lookErr := exec.LookPath("ansible")
	live := lookErr == nil && os.Getenv("FLEET_CONFORMANCE_GOLDEN") != "1"
	if *update && !live {
		t.Fatal("-update needs ansible on PATH")
	}
	var liveResults map[*confCase]map[string]result
	if live {
		t.Log("comparing with live ansible (" + ansibleVersion(t) + ") and the goldens")
		liveResults = runAnsible(t, cases)
	} else {
		t.Log("ansible is not installed: comparing with the committed goldens")
	}
	var exact, sets, sizes int
	defer func() {
		t.Logf("host pattern checks: %d in exact order, %d as sets (where Ansible's own order varies), %d by count", exact, sets, sizes)
	}()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if *update {
				writeGolden(t, c, liveResults[c])
			}
			golden := readGolden(t, c)
			t.Chdir(c.dir)
			inv, loadErr := Load(c.sources...)
			if c.wantErr != "" {
				checkRefused(t, c, loadErr, golden, liveResults[c])
				return
			}
			if loadErr != nil {
				t.Fatalf("Load: %v", loadErr)
			}
			for _, cmd := range c.cmds {
				g, ok := golden[cmd.key()]
				if !ok {
					t.Errorf("%s: no golden (run with -update)", cmd.key())
					continue
				}
				if live {
					l := liveResults[c][cmd.key()]
					if msg := compare(inv, cmd, l, g); msg != "" {
						t.Errorf("%s: the golden no longer matches live ansible (rerun with -update):\n%s", cmd.key(), msg)
					}
					g = l
				}
				if cmd.kind == "hosts" {
					switch order, set := ansibleDeterminism(inv, cmd); {
					case !set:
						sizes++
					case !order:
						sets++
					default:
						exact++
					}
				}
				got := fleetResult(t, inv, cmd)
				if msg := compare(inv, cmd, g, got); msg != "" {
					t.Errorf("%s: fleet differs from ansible:\n%s", cmd.key(), msg)
				}
			}
		})
	}
}

// checkRefused checks a case where fleet refuses what Ansible skips with a
// warning: Ansible must indeed have warned about the source.
func checkRefused(t *testing.T, c *confCase, loadErr error, golden map[string]result, live map[string]result) {
	if loadErr == nil || !strings.Contains(loadErr.Error(), c.wantErr) {
		t.Fatalf("Load error = %v, want one containing %q", loadErr, c.wantErr)
	}
	r := golden["ansible-inventory --list"]
	if live != nil {
		r = live["ansible-inventory --list"]
	}
	if !slices.Contains(r.warnings, "failed to parse") && !slices.Contains(r.warnings, "skipped part of the inventory") && r.exit == 0 {
		t.Errorf("ansible read this inventory without skipping any of it; fleet refuses it with %v", loadErr)
	}
}

// fleetResult computes what fleet shows for a command, in Ansible's format.
func fleetResult(t *testing.T, inv *Inventory, cmd confCmd) result {
	var r result
	switch cmd.kind {
	case "list":
		out, _, err := inv.ListJSON()
		if err != nil {
			t.Fatalf("ListJSON: %v", err)
		}
		r.stdout = string(out) + "\n"
	case "graph":
		out, err := inv.Graph(cmd.arg)
		if err != nil {
			r.exit = 1
			break
		}
		r.stdout = out + "\n"
	case "host":
		sel, err := inv.Select(Query{Patterns: []string{cmd.arg}})
		if err != nil || len(sel.Hosts) != 1 {
			r.exit = 1
			break
		}
		out, _, err := vars.EncodeJSON(inv.ExportVars(sel.Hosts[0]))
		if err != nil {
			t.Fatalf("EncodeJSON: %v", err)
		}
		r.stdout = string(out) + "\n"
	case "hosts":
		sel, err := inv.Select(Query{Patterns: []string{cmd.arg}, Limit: cmd.limit})
		if err != nil {
			r.exit = 1 // fleet refuses; Ansible may print "hosts (0)" instead
			break
		}
		r.stdout = fmt.Sprintf("  hosts (%d):\n", len(sel.Hosts))
		for _, h := range sel.Hosts {
			r.stdout += "    " + h.Name + "\n"
		}
		var ws []string
		for _, w := range sel.Warnings {
			if msg, ok := strings.CutPrefix(w.Msg, "could not match supplied host pattern, ignoring: "); ok {
				ws = append(ws, "no match: "+msg)
			}
		}
		sort.Strings(ws)
		r.warnings = slices.Compact(ws)
	}
	return r
}

// compare returns "" when got agrees with want for cmd, else what differs.
func compare(inv *Inventory, cmd confCmd, want, got result) string {
	if cmd.kind != "hosts" {
		switch {
		case want.exit != 0 && got.exit != 0:
			return ""
		case want.exit != got.exit:
			return fmt.Sprintf("exit status: want %d, got %d\n%s", want.exit, got.exit, got.stdout)
		case want.stdout != got.stdout:
			return diffText(want.stdout, got.stdout)
		}
		return ""
	}
	wantHosts, gotHosts := listedHosts(want.stdout), listedHosts(got.stdout)
	wantNone := want.exit != 0 || len(wantHosts) == 0
	gotNone := got.exit != 0 || len(gotHosts) == 0
	if wantNone || gotNone {
		if wantNone != gotNone {
			return fmt.Sprintf("want hosts %q, got %q (exit %d)", wantHosts, gotHosts, got.exit)
		}
		return ""
	}
	if got.exit == 0 && !slices.Equal(want.warnings, got.warnings) {
		return fmt.Sprintf("warnings: want %q, got %q", want.warnings, got.warnings)
	}
	orderStable, setStable := ansibleDeterminism(inv, cmd)
	switch {
	case !setStable:
		// A subscript over an order Ansible does not fix: only the size is
		// defined.
		if len(wantHosts) != len(gotHosts) {
			return fmt.Sprintf("want %d hosts, got %d: %q", len(wantHosts), len(gotHosts), gotHosts)
		}
	case !orderStable:
		w, g := slices.Clone(wantHosts), slices.Clone(gotHosts)
		sort.Strings(w)
		sort.Strings(g)
		if !slices.Equal(w, g) {
			return fmt.Sprintf("want hosts (any order) %q, got %q", wantHosts, gotHosts)
		}
	default:
		if !slices.Equal(wantHosts, gotHosts) {
			return fmt.Sprintf("want hosts %q, got %q", wantHosts, gotHosts)
		}
	}
	return ""
}

func listedHosts(stdout string) []string {
	var out []string
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "    ") {
			out = append(out, strings.TrimPrefix(line, "    "))
		}
	}
	return out
}

func diffText(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("first difference at line %d:\n  want: %q\n  got:  %q", i+1, w, g)
		}
	}
	return "outputs differ"
}

// ansibleDeterminism says whether Ansible's answer for a hosts command is
// fixed: Ansible walks nested groups level by level from a Python set, so
// the order of hosts two or more levels below a matched group can change
// from run to run (and with it, what a subscript picks).
func ansibleDeterminism(inv *Inventory, cmd confCmd) (orderStable, setStable bool) {
	orderStable, setStable = true, true
	parts := SplitPattern(cmd.arg)
	regular := 0
	for _, p := range parts {
		if p[0] != '&' && p[0] != '!' {
			regular++
		}
	}
	if regular == 0 {
		parts = append(parts, "all")
	}
	var limitParts []string
	if cmd.hasLimit {
		limitParts, _ = limitPatterns(cmd.limit)
	}
	for i, p := range append(parts, limitParts...) {
		if p == "" || inv.hosts[p] != nil {
			continue
		}
		inLimit := i >= len(parts)
		name := strings.TrimLeft(p[:1], "&!") + p[1:]
		ev := &evaluator{inv: inv, cache: map[string][]*Host{}, regexps: map[string]*regexp.Regexp{}, warned: map[string]bool{}}
		expr, sub, err := ev.splitSubscript(name)
		if err != nil {
			continue
		}
		re, err := ev.compile(expr)
		if err != nil {
			continue
		}
		for _, g := range inv.groupList {
			if !re.MatchString(g.Name) || stableWalk(g) {
				continue
			}
			if sub != nil {
				setStable = false
			}
			if !inLimit && p[0] != '&' && p[0] != '!' {
				orderStable = false
			}
		}
	}
	return orderStable, setStable
}

// stableWalk reports whether Ansible's walk below g visits groups in a fixed
// order: at each level at most one group may bring in new child groups.
func stableWalk(g *Group) bool {
	level := append([]*Group{g}, g.children...)
	seen := map[*Group]bool{}
	for len(level) > 0 {
		for _, u := range level {
			seen[u] = true
		}
		var next []*Group
		contributors := 0
		for _, u := range level {
			brings := false
			for _, c := range u.children {
				if !seen[c] {
					brings = true
					if !slices.Contains(next, c) {
						next = append(next, c)
					}
				}
			}
			if brings {
				contributors++
			}
		}
		if contributors > 1 {
			return false
		}
		level = next
	}
	return true
}
