package bench

import (
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests check the harness's own logic; they run without FLEET_BENCH.

func TestCheckRecap(t *testing.T) {
	line := func(host string, ok, changed, unreachable, failed int) string {
		return host + "                        : ok=" + strconv.Itoa(ok) + "   changed=" + strconv.Itoa(changed) +
			"    unreachable=" + strconv.Itoa(unreachable) + "    failed=" + strconv.Itoa(failed) + "    skipped=0    rescued=0    ignored=0\n"
	}
	names := []string{"h01", "h02"}
	for _, c := range []struct {
		name    string
		out     string
		changed int
		wantErr string // empty: no error
	}{
		{"all ok, any change", "PLAY RECAP ***\n" + line("h01", 10, 10, 0, 0) + line("h02", 10, 3, 0, 0), anyChanged, ""},
		{"all ok, no change", line("h01", 10, 0, 0, 0) + line("h02", 10, 0, 0, 0), 0, ""},
		{"a change where none is wanted", line("h01", 10, 0, 0, 0) + line("h02", 10, 1, 0, 0), 0, "h02: changed=1, want 0"},
		{"a host missing", line("h01", 10, 0, 0, 0), anyChanged, "no row for h02"},
		{"a failure", line("h01", 9, 0, 0, 1) + line("h02", 10, 0, 0, 0), anyChanged, "h01 did not finish 10 tasks ok"},
		{"unreachable", line("h01", 10, 0, 0, 0) + line("h02", 0, 0, 1, 0), anyChanged, "h02 did not finish"},
		{"a prefix of another host's name", line("h011", 10, 0, 0, 0) + line("h02", 10, 0, 0, 0), anyChanged, "no row for h01"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkRecap(c.out, names, 10, c.changed)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestFillRatios(t *testing.T) {
	ok := func(scen, tool, mode string, wall float64) row {
		return row{Scenario: scen, Tool: tool, Mode: mode, WallSec: wall, Status: "ok"}
	}
	b := &bench{rows: []row{
		ok("S1", "fleet run", "cold", 0.5),
		ok("S1", "fleet play", "cold", 0.8),
		ok("S1", "fleet run", "warm", 0.3),
		ok("S1", "ssh", "cold", 1),
		ok("S1", "ansible", "cold", 8),
		ok("S1", "ansible", "warm", 6),
		ok("S1", floorTool, "cold", 0.4),
		ok("S1", floorTool, "warm", 0.1),
		{Scenario: "S1", Tool: "pdsh", Mode: "cold", Status: "n/a: pdsh not installed"},
		ok("S3", "fleet push", "cold", 1),
		ok("S3", "ansible copy", "cold", 4),
	}}
	b.fillRatios()
	want := []struct {
		fleetRatio float64
		vs         string
		floorRatio float64
	}{
		{0, "", 1.25},
		{0, "", 2},
		{0, "", 3},
		{0.5, "fleet run", 0},
		{0.1, "fleet play", 0}, // playbook against playbook
		{0.05, "fleet run", 0}, // no fleet play row in warm mode
		{1.25, "fleet run", 0},
		{3, "fleet run", 0},
		{0, "", 0},
		{0, "", 0},
		{0.25, "fleet push", 0},
	}
	for i, w := range want {
		r := b.rows[i]
		if math.Abs(r.FleetRatio-w.fleetRatio) > 1e-9 || r.RatioVs != w.vs || math.Abs(r.FloorRatio-w.floorRatio) > 1e-9 {
			t.Errorf("row %d (%s %s %s): fleet ratio %.3f vs %q, floor ratio %.3f; want %.3f vs %q, %.3f",
				i, r.Scenario, r.Tool, r.Mode, r.FleetRatio, r.RatioVs, r.FloorRatio, w.fleetRatio, w.vs, w.floorRatio)
		}
	}
	table := formatTable(b.rows)
	for _, s := range []string{"play: 0.10", "n/a: pdsh not installed", "fleet/floor"} {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
}

// TestMeterCountsOrphans shows the fix for the sshd CPU column: a process
// of the login user that outlives its parent, as sshd's post-auth process
// does after an OpenSSH client's disconnect, is adopted by the test process
// and its CPU counted when the meter reaps it.
func TestMeterCountsOrphans(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs Linux and root (to run a process as another user)")
	}
	const nobody = 65534
	m, note := newServerMeter(nobody)
	if note != "" {
		t.Fatal(note)
	}
	before, _ := m.sample(nil)
	// The outer shell exits at once, orphaning a busy subshell.
	cmd := exec.Command("sh", "-c", `(i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done) & echo $!`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("start an orphan as uid %d: %v", nobody, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("the shell printed %q, not a pid", out)
	}
	deadline := time.Now().Add(time.Minute) // a generous bound against hangs
	for {
		p, ok := readStat(pid)
		if !ok {
			t.Fatalf("pid %d was reaped by someone else: it should have been adopted by this process", pid)
		}
		if p.ppid != os.Getpid() {
			t.Fatalf("pid %d has parent %d, want this process (%d): the subreaper is not in effect", pid, p.ppid, os.Getpid())
		}
		if p.state == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still runs after a minute", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling for the orphan's exit, not an assertion
	}
	after := m.settled(nil)
	if _, ok := readStat(pid); ok {
		t.Errorf("pid %d is still there: the meter did not reap it", pid)
	}
	if got := after - before; got < 10*time.Millisecond {
		t.Errorf("the meter counted %v for an orphan that ran a busy loop; want at least one clock tick", got)
	}
}
