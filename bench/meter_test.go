package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"fleetrun.dev/fleet/internal/sshdtest"
)

// serverMeter measures the CPU time of the hosts' sshd process trees.
//
// Summing the listeners' trees from /proc (utime+stime+cutime+cstime of
// every process) misses most of the work done for OpenSSH clients: when a
// client sends SSH_MSG_DISCONNECT ("Received disconnect ... disconnected
// by user" in sshd's log), which ssh, scp, rsync's ssh, pssh, pdsh and
// Ansible's ssh all do, the post-auth user process ("sshd: USER@notty")
// leaves through sshd's cleanup_exit path, and its monitor process, seeing
// the monitor socket close, exits as well without waiting for it
// (OpenSSH 9.2, monitor_read → cleanup_exit). The user process, which has
// reaped the session's shells, scp or sftp-server and so carries their
// CPU time too, is re-parented to init and its time never reaches the
// listener's cutime. fleet's connections end without a disconnect message
// ("Connection closed by"), take the normal path (mm_terminate, where the
// monitor waits for the user process) and were counted; so the column
// favoured every peer.
//
// The fix: the test process makes itself a child subreaper
// (PR_SET_CHILD_SUBREAPER), so such orphans are re-parented to it instead
// of init, and the meter reaps them itself with wait4, whose rusage holds
// the orphan's CPU and that of the children it reaped. Only processes of
// the hosts' login user are reaped and counted: the tools run as root, so
// none of the test's own children (tools, sshd listeners, fleet-lab),
// whose exit status os/exec collects, is ever touched. Root-owned orphans
// (daemonised ssh masters, `fleet master serve`) stay unreaped zombies
// until the test ends; nothing waits for their pids.
type serverMeter struct {
	self     int
	loginUID int
	// adopting is whether the subreaper could be set; without it the
	// meter counts what the listeners' trees show, as before.
	adopting bool
	// reaped is the CPU of the login user's orphans reaped so far: it
	// only grows, so a difference of two samples counts each orphan once.
	reaped time.Duration
}

// procInfo is one process, zombies included, as /proc/<pid>/stat shows it.
type procInfo struct {
	pid, ppid int
	state     string
	ticks     int64 // utime+stime+cutime+cstime
}

// scanProcs reads every process from /proc, zombies included.
func scanProcs() map[int]procInfo {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	procs := make(map[int]procInfo, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readStat(pid); ok {
			procs[pid] = p
		}
	}
	return procs
}

// readStat parses /proc/<pid>/stat; ok is false when the process is gone.
func readStat(pid int) (procInfo, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	// The command name in parentheses may hold spaces and ")".
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 15 {
		return procInfo{}, false
	}
	p := procInfo{pid: pid, state: f[0]}
	p.ppid, _ = strconv.Atoi(f[1])
	for _, field := range f[11:15] { // fields 14–17 of proc(5)
		n, _ := strconv.ParseInt(field, 10, 64)
		p.ticks += n
	}
	return p, true
}

// procTicks returns utime+stime+cutime+cstime of pid, 0 if it is gone.
func procTicks(pid int) int64 {
	p, _ := readStat(pid)
	return p.ticks
}

// realUID returns the real uid of pid (a zombie's too), or -1.
func realUID(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				uid, err := strconv.Atoi(f[0])
				if err == nil {
					return uid
				}
			}
		}
	}
	return -1
}

// sample reaps the login user's orphans that have exited and returns the
// CPU of the servers' trees, of the login user's live orphans and their
// trees, and of every orphan reaped so far. unsettled is true while a
// counted process is a zombie, whose time its parent has not collected
// yet.
func (m *serverMeter) sample(servers []*sshdtest.Server) (cpu time.Duration, unsettled bool) {
	procs := scanProcs()
	var roots []int
	for _, s := range servers {
		roots = append(roots, s.PID())
	}
	if m.adopting {
		for pid, p := range procs {
			if p.ppid != m.self || realUID(pid) != m.loginUID {
				continue
			}
			if p.state != "Z" {
				roots = append(roots, pid)
				continue
			}
			var ru syscall.Rusage
			var ws syscall.WaitStatus
			if got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, &ru); err == nil && got == pid {
				m.reaped += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				delete(procs, pid)
			}
		}
	}
	children := map[int][]int{}
	for pid, p := range procs {
		children[p.ppid] = append(children[p.ppid], pid)
	}
	var ticks int64
	for queue := roots; len(queue) > 0; queue = queue[1:] {
		p, ok := procs[queue[0]]
		if !ok {
			continue
		}
		ticks += p.ticks
		if p.state == "Z" {
			unsettled = true
		}
		queue = append(queue, children[p.pid]...)
	}
	return time.Duration(ticks)*time.Second/clockTicks + m.reaped, unsettled
}

// settled is sample once the servers' processes of finished connections
// are reaped: /proc shows a zombie's own times but not the children it
// reaped, and its parent counts them only after reaping it, a moment
// after the client left.
func (m *serverMeter) settled(servers []*sshdtest.Server) time.Duration {
	last, _ := m.sample(servers)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond) // settling, not asserting
		now, unsettled := m.sample(servers)
		if now == last && !unsettled {
			return now
		}
		last = now
	}
	return last
}

// newServerMeter makes the test process a child subreaper and returns a
// meter for the login user's uid. Without the subreaper (not Linux, or
// prctl refused) it says why in note and counts what it can.
func newServerMeter(loginUID int) (m *serverMeter, note string) {
	m = &serverMeter{self: os.Getpid(), loginUID: loginUID}
	if err := becomeSubreaper(); err != nil {
		return m, fmt.Sprintf("sshd CPU misses the sessions of OpenSSH clients: cannot become a child subreaper: %v", err)
	}
	m.adopting = true
	return m, ""
}
