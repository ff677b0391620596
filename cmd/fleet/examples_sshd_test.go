package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// examplesDir holds the example playbooks (issue 5, acceptance 1).
const examplesDir = "../../examples/playbooks"

// playTool runs a playbook on a lab's hosts. The examples are run by fleet
// play and, where they stick to Ansible's language and ansible-playbook is
// installed, by ansible-playbook too, so that what they are said to do is
// what Ansible does with them.
type playTool struct {
	name string
	play func(t *testing.T, lab *playLab, path string, args ...string) fleetResult
}

func fleetTool() playTool {
	return playTool{"fleet play", func(t *testing.T, lab *playLab, path string, args ...string) fleetResult {
		t.Helper()
		return lab.play(t, path, args...)
	}}
}

// exampleTools returns fleet play, and ansible-playbook when installed (a
// failure when FLEET_REQUIRE_ANSIBLE=1 and it is not).
func exampleTools(t *testing.T) []playTool {
	tools := []playTool{fleetTool()}
	if _, err := exec.LookPath("ansible-playbook"); err == nil || os.Getenv(requireAnsibleEnv) == "1" {
		tools = append(tools, playTool{"ansible-playbook", func(t *testing.T, lab *playLab, path string, args ...string) fleetResult {
			t.Helper()
			r := lab.ansiblePlay(t, requireAnsible(t), path, args...)
			if r.code < 0 {
				t.Fatal(r.stderr)
			}
			t.Logf("ansible-playbook %s %s\nexit %d in %s\n%s", path, strings.Join(args, " "), r.code, r.elapsed, r.stdout)
			return r
		}})
	}
	return tools
}

// recapOf parses a run's PLAY RECAP and requires a row for each of hosts
// and for no other host.
func recapOf(t *testing.T, tool string, r fleetResult, hosts ...string) map[string]recapRow {
	t.Helper()
	rows := parseRecap(r.stdout)
	for _, h := range hosts {
		if _, ok := rows[h]; !ok {
			t.Errorf("%s: no recap row for %s", tool, h)
		}
	}
	if len(rows) != len(hosts) {
		t.Errorf("%s: recap rows for %v, want exactly %v", tool, rows, hosts)
	}
	return rows
}

// stopApps ends the demo apps deploy.yml started on the lab's hosts, by the
// pids in their pid files, before the test removes the hosts' roots. It is
// registered after the roots, so it runs before their removal.
func stopApps(t *testing.T, lab *playLab) {
	t.Cleanup(func() {
		for host, root := range lab.roots {
			pid, err := appPID(root)
			if err != nil {
				continue
			}
			syscall.Kill(pid, syscall.SIGTERM)
			deadline := time.Now().Add(10 * time.Second)
			for processAlive(pid) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if processAlive(pid) {
				t.Errorf("%s: the demo app (pid %d) did not stop on SIGTERM", host, pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

// appPID reads the pid of a host's demo app.
func appPID(root string) (int, error) {
	data, err := os.ReadFile(filepath.Join(root, "run", "app.pid"))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("bad pid file %q", data)
	}
	return pid, nil
}

// processAlive reports whether pid runs and is not a zombie.
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || !strings.HasPrefix(strings.TrimSpace(string(stat[i+1:])), "Z")
}

// deployedApps checks that every host runs the demo app of release and
// returns the apps' pids.
func deployedApps(t *testing.T, lab *playLab, release string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, host := range lab.hosts {
		root := lab.roots[host]
		link, err := os.Readlink(filepath.Join(root, "current"))
		if want := filepath.Join(root, "releases", release); err != nil || link != want {
			t.Errorf("%s: current -> %q (%v), want %s", host, link, err, want)
		}
		if got := readFile(t, filepath.Join(root, "releases", release, "VERSION")); got != release+"\n" {
			t.Errorf("%s: VERSION %q, want %q", host, got, release)
		}
		for _, f := range []string{"bin/app", "bin/appctl", "README"} {
			if _, err := os.Stat(filepath.Join(root, "releases", release, f)); err != nil {
				t.Errorf("%s: the release lacks %s: %v", host, f, err)
			}
		}
		conf := readFile(t, filepath.Join(root, "shared", "app.conf"))
		var peers []string
		for _, h := range lab.hosts {
			if h != host {
				peers = append(peers, h)
			}
		}
		for _, line := range []string{"release = " + release, "listen = 8080", "host = " + host, "peers = " + strings.Join(peers, ", ")} {
			if !strings.Contains(conf, line+"\n") {
				t.Errorf("%s: app.conf lacks %q:\n%s", host, line, conf)
			}
		}
		if got, want := readFile(t, filepath.Join(root, "run", "status")), "running "+release+" on port 8080\n"; got != want {
			t.Errorf("%s: run/status %q, want %q", host, got, want)
		}
		pid, err := appPID(root)
		if err != nil || !processAlive(pid) {
			t.Errorf("%s: the app is not running (pid %d, %v)", host, pid, err)
		}
		pids[host] = pid
	}
	return pids
}

// TestSSHDExampleDeploy runs the rolling deploy example on four real sshd
// hosts: a first deploy (two batches of two, each host's app started by
// the handler, the first batch's apps up before the second batch starts),
// the same deploy again (acceptance 3: changed=0 everywhere, no restart),
// a --check of a new release (acceptance 4: it reports changes and leaves
// every file on every host as it was), and the real upgrade, whose handler
// restarts every app on the new release.
func TestSSHDExampleDeploy(t *testing.T) {
	deploy := filepath.Join(examplesDir, "deploy.yml")
	for _, tool := range exampleTools(t) {
		t.Run(tool.name, func(t *testing.T) {
			t.Parallel() // each tool has hosts of its own
			lab := newPlayLab(t, 4, nil)
			stopApps(t, lab)

			r := tool.play(t, lab, deploy)
			if r.code != 0 {
				t.Fatalf("first deploy: exit %d, want 0", r.code)
			}
			for host, row := range recapOf(t, tool.name, r, lab.hosts...) {
				if row.Changed == 0 || row.Failed+row.Unreachable != 0 {
					t.Errorf("first deploy: %s: %v, want changes and no failure", host, row)
				}
			}
			pids := deployedApps(t, lab, "1.0.0")
			// serial: 2: h1 and h2 were restarted and checked before h3
			// and h4 got their first directory.
			for _, early := range []string{"h1", "h2"} {
				for _, late := range []string{"h3", "h4"} {
					up := modTime(t, filepath.Join(lab.roots[early], "run", "status"))
					started := modTime(t, filepath.Join(lab.roots[late], "releases"))
					if !up.Before(started) {
						t.Errorf("%s's app came up at %s, after %s's deploy began at %s: the batches overlapped",
							early, up.Format(time.StampMicro), late, started.Format(time.StampMicro))
					}
				}
			}
			if t.Failed() {
				t.FailNow()
			}

			// Acceptance 3: idempotent.
			r = tool.play(t, lab, deploy)
			if r.code != 0 {
				t.Fatalf("second deploy: exit %d, want 0", r.code)
			}
			for host, row := range recapOf(t, tool.name, r, lab.hosts...) {
				if row.Changed != 0 || row.Failed+row.Unreachable != 0 || row.OK == 0 {
					t.Errorf("second deploy: %s: %v, want changed=0 and no failure", host, row)
				}
			}
			if again := deployedApps(t, lab, "1.0.0"); fmt.Sprint(again) != fmt.Sprint(pids) {
				t.Errorf("second deploy restarted apps: pids %v, then %v", pids, again)
			}

			// Acceptance 4: --check changes nothing and says what it would.
			before := map[string]map[string]string{}
			for host, root := range lab.roots {
				before[host] = snapshotTree(t, root)
			}
			r = tool.play(t, lab, deploy, "--check", "--diff", "-e", "release=1.1.0")
			if r.code != 0 {
				t.Fatalf("--check: exit %d, want 0", r.code)
			}
			for host, row := range recapOf(t, tool.name, r, lab.hosts...) {
				if row.Changed == 0 || row.Failed+row.Unreachable != 0 {
					t.Errorf("--check: %s: %v, want changes reported and no failure", host, row)
				}
			}
			if !strings.Contains(r.stdout, "+1.1.0") {
				t.Errorf("--check --diff shows no diff with the new VERSION (+1.1.0)")
			}
			for host, root := range lab.roots {
				compareTrees(t, host, "before --check", "after --check", before[host], snapshotTree(t, root))
			}
			if again := deployedApps(t, lab, "1.0.0"); fmt.Sprint(again) != fmt.Sprint(pids) {
				t.Errorf("--check restarted apps: pids %v, then %v", pids, again)
			}
			if t.Failed() {
				t.FailNow()
			}

			// The upgrade: the handler restarts every app on 1.1.0.
			r = tool.play(t, lab, deploy, "-e", "release=1.1.0")
			if r.code != 0 {
				t.Fatalf("upgrade: exit %d, want 0", r.code)
			}
			recapOf(t, tool.name, r, lab.hosts...)
			upgraded := deployedApps(t, lab, "1.1.0")
			for host, pid := range pids {
				if upgraded[host] == pid {
					t.Errorf("%s: the app was not restarted (pid %d)", host, pid)
				}
				if processAlive(pid) {
					t.Errorf("%s: the old app (pid %d) still runs", host, pid)
				}
			}
		})
	}
}

// TestSSHDExampleDeployMaxFail shows the deploy example's
// max_fail_percentage at work: one host of the first batch of two failing
// (half the batch, over the 25% allowed) stops the rollout, so the other
// host of that batch goes no further and the second batch is never touched.
func TestSSHDExampleDeployMaxFail(t *testing.T) {
	deploy := filepath.Join(examplesDir, "deploy.yml")
	for _, tool := range exampleTools(t) {
		t.Run(tool.name, func(t *testing.T) {
			t.Parallel() // each tool has hosts of its own
			lab := newPlayLab(t, 4, nil)
			stopApps(t, lab)
			// A file where h2's releases directory should be.
			blocker := filepath.Join(lab.roots["h2"], "releases")
			writeFile(t, blocker, "not a directory\n")
			chownToLogin(t, lab.servers["h2"], blocker)

			r := tool.play(t, lab, deploy)
			if r.code != 2 {
				t.Errorf("exit %d, want 2 (a host failed)", r.code)
			}
			// h3 and h4 never started: Ansible leaves them out of the recap.
			rows := recapOf(t, tool.name, r, "h1", "h2")
			if rows["h2"].Failed != 1 {
				t.Errorf("h2: %v, want failed=1", rows["h2"])
			}
			if rows["h1"].Failed != 0 {
				t.Errorf("h1: %v, want no failure of its own", rows["h1"])
			}
			for _, host := range lab.hosts {
				if _, err := os.Lstat(filepath.Join(lab.roots[host], "current")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s: current exists (%v): the rollout went on", host, err)
				}
			}
			for _, host := range []string{"h3", "h4"} {
				if entries, _ := os.ReadDir(lab.roots[host]); len(entries) != 0 {
					t.Errorf("%s: the second batch was touched: %d entries in its root", host, len(entries))
				}
			}
		})
	}
}

// TestSSHDExampleHealth runs the health check example: with thresholds
// every host meets, every host passes, keeps its line and the controller
// gets a summary naming all of them; with a disk threshold no host meets,
// every host fails its check and fleet exits 2.
func TestSSHDExampleHealth(t *testing.T) {
	health := filepath.Join(examplesDir, "health.yml")
	for _, tool := range exampleTools(t) {
		t.Run(tool.name, func(t *testing.T) {
			t.Parallel() // each tool has hosts of its own
			lab := newPlayLab(t, 3, nil)
			report := t.TempDir()
			// Thresholds a loaded test machine meets.
			lenient := []string{"-e", "report_dir=" + report, "-e", "health_max_load=1000",
				"-e", "health_max_disk=100", "-e", "health_min_mem=0"}
			r := tool.play(t, lab, health, lenient...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0", r.code)
			}
			for host, row := range recapOf(t, tool.name, r, lab.hosts...) {
				if row.Failed+row.Unreachable != 0 || row.OK < 6 {
					t.Errorf("%s: %v, want ok for facts and every check, and no failure", host, row)
				}
			}
			line := regexp.MustCompile(`^(h\d): \S+ \S+ \S+, disk \d+%, load/cpu [\d.]+, memory available \d+%, up [\d.]+ days$`)
			for _, host := range lab.hosts {
				got := strings.TrimSuffix(readFile(t, filepath.Join(lab.roots[host], "health.txt")), "\n")
				if m := line.FindStringSubmatch(got); m == nil || m[1] != host {
					t.Errorf("%s: health.txt %q does not match %s", host, got, line)
				}
			}
			summary := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(report, "health.txt"))), "\n")
			if len(summary) != len(lab.hosts) {
				t.Errorf("summary has %d lines, want one per host:\n%s", len(summary), strings.Join(summary, "\n"))
			}
			for i, host := range lab.hosts {
				if i < len(summary) && !strings.HasPrefix(summary[i], host+": ") {
					t.Errorf("summary line %d is %q, want %s's", i+1, summary[i], host)
				}
			}

			strict := append(lenient, "-e", "health_max_disk=-1")
			r = tool.play(t, lab, health, strict...)
			if r.code != 2 {
				t.Errorf("with an impossible disk threshold: exit %d, want 2", r.code)
			}
			for host, row := range recapOf(t, tool.name, r, lab.hosts...) {
				if row.Failed != 1 {
					t.Errorf("with an impossible disk threshold: %s: %v, want failed=1", host, row)
				}
			}
		})
	}
}

// TestSSHDExampleParallel runs the parallel: block example (fleet only:
// it is fleet's extension): every step runs and is reported on its own,
// and the step logs show they ran at once on each host (every step started
// before any ended), which a sequential run of steps that sleep cannot do.
func TestSSHDExampleParallel(t *testing.T) {
	lab := newPlayLab(t, 2, nil)
	r := fleetTool().play(t, lab, filepath.Join(examplesDir, "parallel.yml"))
	if r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
	for host, row := range recapOf(t, "fleet play", r, lab.hosts...) {
		if row.Failed+row.Unreachable != 0 || row.Changed < 5 {
			t.Errorf("%s: %v, want the directory and 4 steps changed, no failure", host, row)
		}
	}
	for _, step := range []string{"warm the cache", "checksum the system binaries", "probe the network", "write the host's settings"} {
		if !strings.Contains(r.stdout, step) {
			t.Errorf("the step %q is not reported", step)
		}
	}
	for _, host := range lab.hosts {
		steps := filepath.Join(lab.roots[host], "steps")
		if got := readFile(t, filepath.Join(steps, "settings.conf")); got != "host = "+host+"\n" {
			t.Errorf("%s: settings.conf %q", host, got)
		}
		var lastStart, firstEnd float64
		for i, log := range []string{"cache.log", "checksum.log", "network.log"} {
			var start, end float64
			text := readFile(t, filepath.Join(steps, log))
			if _, err := fmt.Sscanf(text, "start %f\nend %f\n", &start, &end); err != nil {
				t.Fatalf("%s: %s: %q: %v", host, log, text, err)
			}
			if i == 0 || start > lastStart {
				lastStart = start
			}
			if i == 0 || end < firstEnd {
				firstEnd = end
			}
		}
		if lastStart >= firstEnd {
			t.Errorf("%s: a step started (%.3f) after another ended (%.3f): the steps did not run at once", host, lastStart, firstEnd)
		}
	}
}

func modTime(t *testing.T, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}
