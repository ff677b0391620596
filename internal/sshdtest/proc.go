package sshdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a live process as /proc shows it. Zombies (exited processes
// not yet reaped by their parent) are never reported: they run nothing.
type Process struct {
	PID     int
	PPID    int
	UID     int    // real user id
	State   string // one letter from /proc/<pid>/stat: "R", "S", "D", "T" (stopped), ...
	Cmdline string // argv joined by spaces; sshd rewrites its own, e.g. "sshd: fleet-test@notty"
}

func (p Process) String() string {
	return fmt.Sprintf("pid %d (ppid %d, uid %d, state %s): %s", p.PID, p.PPID, p.UID, p.State, p.Cmdline)
}

// listProcesses reads every live process from /proc. Processes that exit
// while it reads are skipped.
func listProcesses() []Process {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var procs []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProcess(pid); ok {
			procs = append(procs, p)
		}
	}
	return procs
}

// readProcess reads one process; ok is false when it is gone or a zombie.
func readProcess(pid int) (p Process, ok bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	stat, err := os.ReadFile(dir + "stat")
	if err != nil {
		return p, false
	}
	// The command name in parentheses may itself hold spaces and ")", so
	// the fields that follow start after the last ")".
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return p, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 2 || fields[0] == "Z" || fields[0] == "X" {
		return p, false
	}
	p.PID = pid
	p.State = fields[0]
	p.PPID, _ = strconv.Atoi(fields[1])
	p.UID = -1
	if status, err := os.ReadFile(dir + "status"); err == nil {
		for line := range strings.Lines(string(status)) {
			if rest, found := strings.CutPrefix(line, "Uid:"); found {
				if f := strings.Fields(rest); len(f) > 0 {
					p.UID, _ = strconv.Atoi(f[0])
				}
				break
			}
		}
	}
	cmdline, _ := os.ReadFile(dir + "cmdline")
	p.Cmdline = strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	return p, true
}

// descendantsOf returns every live process below root in the parent tree
// (not root itself), parents before children.
func descendantsOf(root int) []Process {
	children := map[int][]Process{}
	for _, p := range listProcesses() {
		children[p.PPID] = append(children[p.PPID], p)
	}
	var out []Process
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			out = append(out, c)
			queue = append(queue, c.PID)
		}
	}
	return out
}

// withEnv returns the live processes whose environment holds the exact
// entry kv ("NAME=value"). Reading another user's environment needs root,
// so a non-root caller sees only its own processes.
func withEnv(kv string) []Process {
	var out []Process
	needle := []byte(kv)
	for _, p := range listProcesses() {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/environ")
		if err != nil {
			continue
		}
		for _, entry := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(entry, needle) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// FindProcesses returns the live processes of the named user whose command
// line contains substr ("" matches all of them).
//
// It answers "did anything I started on the test host survive?" from the
// host side. Remote commands run by sshd call setsid, and once the sshd
// process above them dies they are re-parented to init, so they no longer
// show up in Server.Descendants; they are still the login user's processes.
// Server.UserProcesses finds them for one server without any substr.
//
// WARNING: when running as root every test binary logs in as the same
// fleet-test user, and `go test ./...` runs test binaries in parallel, so
// make substr unique to the test, e.g. `sleep 60.31337` with a random
// fraction rather than `sleep 60`.
func FindProcesses(userName, substr string) []Process {
	u, err := user.Lookup(userName)
	if err != nil {
		return nil
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil
	}
	var out []Process
	for _, p := range listProcesses() {
		if p.UID == uid && strings.Contains(p.Cmdline, substr) {
			out = append(out, p)
		}
	}
	return out
}

// processExists reports whether pid is a process that has not been reaped.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// processLive reports whether pid is a process that is still running, that
// is neither reaped nor a zombie.
func processLive(pid int) bool {
	_, ok := readProcess(pid)
	return ok
}

// stopAll sends SIGSTOP to every process collect returns, and collects again
// until no new process turns up. A stopped process cannot fork, so the set
// it returns is closed: nothing started by a process in it escapes a
// following SIGKILL. If ctx ends first, it returns what it stopped so far.
// This is how a whole sshd process tree is killed even
// though its session leaders are in other sessions and process groups.
func stopAll(ctx context.Context, collect func() []int) []int {
	stopped := map[int]bool{}
	for range 100 {
		var fresh []int
		for _, pid := range collect() {
			if !stopped[pid] {
				syscall.Kill(pid, syscall.SIGSTOP)
				stopped[pid] = true
				fresh = append(fresh, pid)
			}
		}
		if len(fresh) == 0 {
			break
		}
		// Signals are delivered asynchronously: until a process shows as
		// stopped it may still fork.
		for _, pid := range fresh {
			for ctx.Err() == nil {
				if p, ok := readProcess(pid); !ok || p.State == "T" || p.State == "t" {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	pids := make([]int, 0, len(stopped))
	for pid := range stopped {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

// killAll freezes what collect returns (see stopAll), SIGKILLs all of it and
// waits until none of it runs any more, or ctx ends.
func killAll(ctx context.Context, collect func() []int) error {
	pids := stopAll(ctx, collect)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return waitGone(ctx, pids)
}

// waitGone waits until none of pids is a live process.
func waitGone(ctx context.Context, pids []int) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var left []int
		for _, pid := range pids {
			if processLive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sshdtest: processes %v still alive after SIGKILL: %w", left, ctx.Err())
		case <-tick.C:
		}
	}
}

func pidsOf(procs []Process) []int {
	pids := make([]int, len(procs))
	for i, p := range procs {
		pids[i] = p.PID
	}
	return pids
}
