package runner_test

// Tests of the playbook executor, runner.Play, against in-process lab hosts.
// The playbooks are in testdata/play; each test's expected recap counts and
// outcomes are what ansible-playbook 2.14 gives for the same playbook, run
// with one local-connection host per lab host (h0, h1, ...) and the same
// inventory variable root. Timeouts only guard against hangs.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/internal/labtest"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/playbook"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/runner"
	"fleetrun.dev/fleet/vars"
)

// playLab is a set of lab hosts named h0, h1, ..., each with an
// inventory variable root: a directory of its own on this machine's disk,
// which the lab hosts share.
type playLab struct {
	hosts   []runner.Host
	servers []*labhost.Server
	pool    *muxconn.Pool
}

// newPlayLab starts n lab hosts; inv holds inventory variables every host
// gets besides inventory_hostname and root.
func newPlayLab(t *testing.T, n int, opts labhost.Options, inv map[string]string) *playLab {
	t.Helper()
	l := labtest.Start(t, n, opts)
	base := t.TempDir()
	pl := &playLab{servers: l.Hosts, pool: newPool(t)}
	for i := range n {
		tg := l.Target(i)
		tg.Alias = fmt.Sprintf("h%d", i)
		pl.hosts = append(pl.hosts, runner.Host{Name: tg.Alias, Target: tg, Vars: hostVars(t, base, tg.Alias, inv)})
	}
	return pl
}

func hostVars(t *testing.T, base, name string, inv map[string]string) *vars.Map {
	t.Helper()
	root := filepath.Join(base, name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	m := vars.NewMap()
	m.Set("inventory_hostname", name)
	m.Set("inventory_hostname_short", name)
	m.Set("root", root)
	for k, v := range inv {
		m.Set(k, v)
	}
	return m
}

// addDead adds a host "dead" whose target is a closed port.
func (l *playLab) addDead(t *testing.T) {
	t.Helper()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := *l.hosts[0].Target
	dead.Alias, dead.Port = "dead", closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	l.hosts = append(l.hosts, runner.Host{Name: "dead", Target: &dead, Vars: hostVars(t, t.TempDir(), "dead", nil)})
}

// root returns the directory of the named host.
func (l *playLab) root(name string) string {
	for _, h := range l.hosts {
		if h.Name == name {
			v, _ := h.Vars.Get("root")
			return v.(string)
		}
	}
	panic("no host " + name)
}

// selectHosts resolves a play's pattern: "all", or host names joined by
// commas.
func (l *playLab) selectHosts(pattern string) ([]runner.Host, error) {
	if pattern == "all" {
		return l.hosts, nil
	}
	var out []runner.Host
	for _, name := range strings.Split(pattern, ",") {
		i := slices.IndexFunc(l.hosts, func(h runner.Host) bool { return h.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("no host %q in the lab", name)
		}
		out = append(out, l.hosts[i])
	}
	return out, nil
}

// play runs the playbook testdata/play/book on the lab with opts, filling
// in Select, HostVars and the Sink (a recorder).
func (l *playLab) play(t *testing.T, ctx context.Context, book string, opts runner.PlayOptions) (*runner.PlayOutcome, *playRecorder) {
	t.Helper()
	books, opts, rec := l.prepare(t, book, opts)
	return runner.Play(ctx, l.pool, books, opts), rec
}

// prepare loads testdata/play/book and fills in opts for the lab.
func (l *playLab) prepare(t *testing.T, book string, opts runner.PlayOptions) ([]*playbook.Playbook, runner.PlayOptions, *playRecorder) {
	t.Helper()
	pb, err := playbook.Load(filepath.Join("testdata", "play", book))
	if err != nil {
		t.Fatalf("loading %s: %v", book, err)
	}
	rec := newPlayRecorder(t)
	opts.Select = l.selectHosts
	opts.HostVars = map[string]*vars.Map{}
	for _, h := range l.hosts {
		opts.HostVars[h.Name] = h.Vars
	}
	opts.Sink = rec
	return []*playbook.Playbook{pb}, opts, rec
}

// extraVars parses -e arguments as the CLI does.
func extraVars(t *testing.T, args ...string) *vars.Map {
	t.Helper()
	m := vars.NewMap()
	for _, a := range args {
		e, err := playbook.ParseExtraVars(a, ".")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range e.Keys() {
			v, _ := e.Get(k)
			m.Set(k, v)
		}
	}
	return m
}

// playEvent is one event a playRecorder received.
type playEvent struct {
	kind   string // "play", "task", "result" or "warn"
	name   string // the play's or the task's name, or the warning
	play   report.PlayStart
	task   report.TaskStart
	result report.TaskResult
}

// playRecorder is a report.PlaySink that keeps every event in order and
// also prints them as Ansible-style text, which a failing test logs.
type playRecorder struct {
	mu     sync.Mutex
	events []playEvent
	recaps [][]report.RecapRow
	closed int

	text *report.PlayTextSink
	out  lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newPlayRecorder(t *testing.T) *playRecorder {
	r := &playRecorder{}
	r.text = report.NewPlayText(&r.out, report.PlayTextOptions{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the run's output:\n%s", r.out.String())
		}
	})
	return r
}

func (r *playRecorder) add(e playEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *playRecorder) Play(p report.PlayStart) {
	r.add(playEvent{kind: "play", name: p.Name, play: p})
	r.text.Play(p)
}

func (r *playRecorder) Task(t report.TaskStart) {
	r.add(playEvent{kind: "task", name: t.Name, task: t})
	r.text.Task(t)
}

func (r *playRecorder) Result(res report.TaskResult) {
	r.add(playEvent{kind: "result", name: res.Task, result: res})
	r.text.Result(res)
}

func (r *playRecorder) Warn(msg string) {
	r.add(playEvent{kind: "warn", name: msg})
	r.text.Warn(msg)
}

func (r *playRecorder) Recap(rows []report.RecapRow) {
	r.mu.Lock()
	r.recaps = append(r.recaps, rows)
	r.mu.Unlock()
	r.text.Recap(rows)
}

func (r *playRecorder) Close() error {
	r.mu.Lock()
	r.closed++
	r.mu.Unlock()
	return r.text.Close()
}

func (r *playRecorder) snapshot() []playEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// results returns the results of the named task that are not a loop
// item's, in the order received.
func (r *playRecorder) results(task string) []report.TaskResult {
	var out []report.TaskResult
	for _, e := range r.snapshot() {
		if e.kind == "result" && e.name == task && !e.result.HasItem {
			out = append(out, e.result)
		}
	}
	return out
}

// items returns the loop item results of the named task on host.
func (r *playRecorder) items(host, task string) []report.TaskResult {
	var out []report.TaskResult
	for _, e := range r.snapshot() {
		if e.kind == "result" && e.name == task && e.result.HasItem && e.result.Host == host {
			out = append(out, e.result)
		}
	}
	return out
}

// result returns host's last result of the named task that is not a
// loop item's; ok is false when there is none.
func (r *playRecorder) result(host, task string) (res report.TaskResult, ok bool) {
	for _, x := range r.results(task) {
		if x.Host == host {
			res, ok = x, true
		}
	}
	return res, ok
}

// status names host's outcome of the named task as Ansible prints it
// ("ok", "changed", "skipping", "failed", "ignored", "unreachable"), or
// "-" when the task did not run there.
func (r *playRecorder) status(host, task string) string {
	res, ok := r.result(host, task)
	if !ok {
		return "-"
	}
	return statusName(res)
}

func statusName(res report.TaskResult) string {
	switch res.Status {
	case report.TaskOK:
		return "ok"
	case report.TaskChanged:
		return "changed"
	case report.TaskSkipped:
		return "skipping"
	case report.TaskFailed:
		if res.Ignored {
			return "ignored"
		}
		return "failed"
	case report.TaskUnreachable:
		return "unreachable"
	}
	return fmt.Sprintf("status(%d)", res.Status)
}

// ran returns the hosts on which the named task ran and was not skipped,
// sorted.
func (r *playRecorder) ran(task string) []string {
	var out []string
	for _, x := range r.results(task) {
		if x.Status != report.TaskSkipped && !slices.Contains(out, x.Host) {
			out = append(out, x.Host)
		}
	}
	slices.Sort(out)
	return out
}

// msg returns the msg of host's result of the named task (a debug task's
// message) as compact JSON, or "<none>".
func (r *playRecorder) msg(host, task string) string {
	res, ok := r.result(host, task)
	if !ok {
		return "<none>"
	}
	v, ok := res.Result["msg"]
	if !ok {
		return "<no msg>"
	}
	b, err := vars.EncodeJSONCompact(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return c.String()
}

// index returns the position of the first event that f accepts, or -1.
func (r *playRecorder) index(f func(playEvent) bool) int {
	return slices.IndexFunc(r.snapshot(), f)
}

// lastIndex returns the position of the last event that f accepts, or -1.
func (r *playRecorder) lastIndex(f func(playEvent) bool) int {
	ev := r.snapshot()
	for i := len(ev) - 1; i >= 0; i-- {
		if f(ev[i]) {
			return i
		}
	}
	return -1
}

func isResult(host, task string) func(playEvent) bool {
	return func(e playEvent) bool {
		return e.kind == "result" && (host == "" || e.result.Host == host) && (task == "" || e.name == task)
	}
}

func isTask(task string) func(playEvent) bool {
	return func(e playEvent) bool { return e.kind == "task" && e.name == task }
}

// plays returns the names of the plays announced, in order.
func (r *playRecorder) plays() []string {
	var out []string
	for _, e := range r.snapshot() {
		if e.kind == "play" {
			out = append(out, e.name)
		}
	}
	return out
}

// checkRecap compares the outcome's recap with want, which maps each host
// that must be in it to its counts written as Ansible prints them, zeros
// left out: "ok=2 changed=1 failed=1".
func checkRecap(t *testing.T, out *runner.PlayOutcome, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, row := range out.Recap {
		got[row.Host] = recapString(row)
	}
	for host, w := range want {
		row := parseRecap(t, w)
		if g, ok := got[host]; !ok {
			t.Errorf("recap: no row for %s, want %s", host, recapString(row))
		} else if g != recapString(row) {
			t.Errorf("recap %s: %s\n                 want %s", host, g, recapString(row))
		}
	}
	for host, g := range got {
		if _, ok := want[host]; !ok {
			t.Errorf("recap: unexpected row %s: %s (Ansible lists only hosts that ran something)", host, g)
		}
	}
}

func recapString(r report.RecapRow) string {
	return fmt.Sprintf("ok=%d changed=%d unreachable=%d failed=%d skipped=%d rescued=%d ignored=%d",
		r.OK, r.Changed, r.Unreachable, r.Failed, r.Skipped, r.Rescued, r.Ignored)
}

func parseRecap(t *testing.T, s string) report.RecapRow {
	t.Helper()
	var r report.RecapRow
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("bad recap count %q", f)
		}
		switch k {
		case "ok":
			r.OK = n
		case "changed":
			r.Changed = n
		case "unreachable":
			r.Unreachable = n
		case "failed":
			r.Failed = n
		case "skipped":
			r.Skipped = n
		case "rescued":
			r.Rescued = n
		case "ignored":
			r.Ignored = n
		default:
			t.Fatalf("bad recap count %q", f)
		}
	}
	return r
}

func checkExit(t *testing.T, out *runner.PlayOutcome, want int) {
	t.Helper()
	if got := out.ExitCode(); got != want {
		t.Errorf("exit code %d, want %d", got, want)
	}
}

// readFile returns a file's content, or "<missing>".
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPlayStrategy(t *testing.T) {
	t.Run("linear", func(t *testing.T) {
		l := newPlayLab(t, 3, labhost.Options{}, nil)
		out, rec := l.play(t, context.Background(), "strategy-linear.yml", runner.PlayOptions{})
		checkExit(t, out, 0)
		checkRecap(t, out, map[string]string{
			"h0": "ok=3 changed=2", "h1": "ok=3 changed=2", "h2": "ok=3 changed=2"})
		// h0 is slow at "one", yet no host starts "two" before every host
		// finished "one".
		for _, step := range [][2]string{{"one", "two"}, {"two", "three"}} {
			last := rec.lastIndex(isResult("", step[0]))
			next := rec.index(isTask(step[1]))
			if last < 0 || next < 0 || last > next {
				t.Errorf("task %q began (event %d) before every host finished %q (event %d)", step[1], next, step[0], last)
			}
			var lastEnd time.Time
			for _, r := range rec.results(step[0]) {
				if r.End.After(lastEnd) {
					lastEnd = r.End
				}
			}
			for _, r := range rec.results(step[1]) {
				if r.Start.Before(lastEnd) {
					t.Errorf("%s started %q at %v, before the last host finished %q at %v",
						r.Host, step[1], r.Start.Format(time.StampMicro), step[0], lastEnd.Format(time.StampMicro))
				}
			}
		}
	})
	t.Run("free", func(t *testing.T) {
		// h0's first task waits for a file h1 writes in its second: it
		// only succeeds if h1 runs ahead of h0.
		l := newPlayLab(t, 2, labhost.Options{}, nil)
		out, rec := l.play(t, context.Background(), "strategy-free.yml", runner.PlayOptions{})
		checkExit(t, out, 0)
		checkRecap(t, out, map[string]string{"h0": "ok=3 changed=2", "h1": "ok=2 changed=1 skipped=1"})
		if got := rec.status("h0", "wait for h1"); got != "changed" {
			t.Errorf("h0 waiting for h1's second task: %s, want changed", got)
		}
		// h1 started "two" while h0 was still at its first task. (When
		// each finished is a race: h0 sees the file as soon as it exists,
		// while h1's task still has its result to make.)
		h1two, ok1 := rec.result("h1", "two")
		h0wait, ok2 := rec.result("h0", "wait for h1")
		if !ok1 || !ok2 || !h1two.Start.Before(h0wait.End) {
			t.Errorf("h1 started \"two\" at %v, after h0 finished its first task at %v", h1two.Start.Format(time.StampMicro), h0wait.End.Format(time.StampMicro))
		}
	})
}

func TestPlaySerial(t *testing.T) {
	cases := []struct {
		book    string
		hosts   int
		batches [][]string
	}{
		{"serial-int.yml", 4, [][]string{{"h0"}, {"h1"}, {"h2"}, {"h3"}}},
		{"serial-percent.yml", 4, [][]string{{"h0", "h1"}, {"h2", "h3"}}},
		{"serial-percent.yml", 3, [][]string{{"h0"}, {"h1"}, {"h2"}}}, // 50% of 3 rounds down
		{"serial-list.yml", 4, [][]string{{"h0"}, {"h1", "h2"}, {"h3"}}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%d hosts", c.book, c.hosts), func(t *testing.T) {
			l := newPlayLab(t, c.hosts, labhost.Options{}, nil)
			out, rec := l.play(t, context.Background(), c.book, runner.PlayOptions{})
			checkExit(t, out, 0)
			want := map[string]string{}
			for _, h := range l.hosts {
				want[h.Name] = "ok=2 changed=1"
			}
			checkRecap(t, out, want)
			batchOf := map[string]int{}
			for i, b := range c.batches {
				for _, h := range b {
					batchOf[h] = i
				}
			}
			// Every result of a batch comes after every result of the
			// batch before, and its work starts after that batch ended.
			var lastEvent []int
			var lastEnd []time.Time
			for range c.batches {
				lastEvent = append(lastEvent, -1)
				lastEnd = append(lastEnd, time.Time{})
			}
			for i, e := range rec.snapshot() {
				if e.kind != "result" {
					continue
				}
				b := batchOf[e.result.Host]
				if b > 0 && e.result.Start.Before(lastEnd[b-1]) {
					t.Errorf("%s (batch %d) started %q before batch %d was done", e.result.Host, b+1, e.name, b)
				}
				for k := b + 1; k < len(c.batches); k++ {
					if lastEvent[k] >= 0 {
						t.Errorf("%s (batch %d) reported %q after batch %d began", e.result.Host, b+1, e.name, k+1)
					}
				}
				lastEvent[b] = i
				if e.result.End.After(lastEnd[b]) {
					lastEnd[b] = e.result.End
				}
			}
			for _, task := range []string{"one", "two"} {
				if got := rec.ran(task); len(got) != c.hosts {
					t.Errorf("%q ran on %v, want every host", task, got)
				}
			}
			// ansible-playbook announces the play once per batch.
			if got := len(rec.plays()); got != len(c.batches) {
				t.Errorf("the play was announced %d times, want once per batch (%d), as Ansible does", got, len(c.batches))
			}
		})
	}
}

func TestPlayMaxFailPercentage(t *testing.T) {
	cases := []struct {
		name      string
		failHosts string
		recap     map[string]string
		after     []string // hosts that ran the play's second task
		next      []string // hosts that ran the next play
	}{
		{
			name: "reached", failHosts: `["h0"]`, // 25% of 4 does not exceed 25
			recap: map[string]string{"h0": "failed=1", "h1": "ok=2 skipped=1", "h2": "ok=2 skipped=1", "h3": "ok=2 skipped=1"},
			after: []string{"h1", "h2", "h3"}, next: []string{"h1", "h2", "h3"},
		},
		{
			name: "exceeded", failHosts: `["h0", "h1"]`,
			recap: map[string]string{"h0": "failed=1", "h1": "failed=1", "h2": "skipped=1", "h3": "skipped=1"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newPlayLab(t, 4, labhost.Options{}, nil)
			out, rec := l.play(t, context.Background(), "max-fail.yml",
				runner.PlayOptions{ExtraVars: extraVars(t, `{"fail_hosts": `+c.failHosts+`}`)})
			checkExit(t, out, runner.ExitFailed)
			checkRecap(t, out, c.recap)
			if got := rec.ran("after"); !slices.Equal(got, c.after) {
				t.Errorf("\"after\" ran on %v, want %v", got, c.after)
			}
			if got := rec.ran("next"); !slices.Equal(got, c.next) {
				t.Errorf("the next play ran on %v, want %v", got, c.next)
			}
		})
	}
}

func TestPlayAnyErrorsFatal(t *testing.T) {
	l := newPlayLab(t, 3, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "any-errors-fatal.yml", runner.PlayOptions{})
	checkExit(t, out, runner.ExitFailed)
	checkRecap(t, out, map[string]string{"h0": "skipped=1", "h1": "failed=1", "h2": "skipped=1"})
	if got := rec.ran("after"); len(got) != 0 {
		t.Errorf("\"after\" ran on %v after a fatal error", got)
	}
	if got := rec.plays(); len(got) != 1 {
		t.Errorf("plays %q began; the fatal error should have ended the run", got)
	}
}

// A batch whose every host fails ends the run; a host that fails leaves
// the run, and the later plays go on without it.
func TestPlayFailedHosts(t *testing.T) {
	cases := []struct {
		name      string
		failHosts string
		recap     map[string]string
		next      []string
	}{
		{
			name: "whole first batch", failHosts: `["h0", "h1"]`,
			// The second batch never starts, so Ansible's recap does not
			// list its hosts.
			recap: map[string]string{"h0": "failed=1", "h1": "failed=1"},
		},
		{
			name: "one host", failHosts: `["h0"]`,
			recap: map[string]string{"h0": "failed=1", "h1": "ok=2 skipped=1", "h2": "ok=2 skipped=1", "h3": "ok=2 skipped=1"},
			next:  []string{"h1", "h2", "h3"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newPlayLab(t, 4, labhost.Options{}, nil)
			out, rec := l.play(t, context.Background(), "batch-fails.yml",
				runner.PlayOptions{ExtraVars: extraVars(t, `{"fail_hosts": `+c.failHosts+`}`)})
			checkExit(t, out, runner.ExitFailed)
			checkRecap(t, out, c.recap)
			if got := rec.ran("next"); !slices.Equal(got, c.next) {
				t.Errorf("the next play ran on %v, want %v", got, c.next)
			}
			for _, h := range []string{"h2", "h3"} {
				if c.next == nil && rec.index(isResult(h, "")) >= 0 {
					t.Errorf("%s of the second batch ran after the first batch failed", h)
				}
			}
		})
	}
}

func TestPlayHandlers(t *testing.T) {
	l := newPlayLab(t, 2, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "handlers.yml", runner.PlayOptions{})
	checkExit(t, out, runner.ExitFailed)
	checkRecap(t, out, map[string]string{"h0": "ok=8 changed=7 skipped=1", "h1": "ok=6 changed=5 failed=1"})
	// restart is notified twice and runs once; "by topic" listens; the
	// flush runs them before "after flush"; h1 fails after notifying
	// "late", so late (and the handler it notifies) run on h0 only.
	for host, want := range map[string]string{"h0": "restart\ntopic\nlate\nchained\n", "h1": "restart\ntopic\n"} {
		if got := readFile(t, filepath.Join(l.root(host), "log")); got != want {
			t.Errorf("%s: handlers wrote %q, want %q", host, got, want)
		}
	}
	restart := rec.lastIndex(isResult("", "restart"))
	after := rec.index(isTask("after flush"))
	if restart < 0 || after < 0 || restart > after {
		t.Errorf("the flushed handler finished at event %d, after the next task began (event %d)", restart, after)
	}
	for _, e := range rec.snapshot() {
		if e.kind == "task" && e.name == "restart" && !e.task.Handler {
			t.Errorf("handler restart announced as a task: %+v", e.task)
		}
	}
	if got := rec.ran("never notified"); len(got) != 0 {
		t.Errorf("a handler notified by an unchanged task ran on %v", got)
	}
}

func TestPlayTags(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	// Which tasks ran, from ansible-playbook -t/--skip-tags on tags.yml.
	cases := []struct {
		tags, skip string
		ran        string
	}{
		{"", "", "t-none t-a t-b t-always"},
		{"a", "", "t-a t-always"},
		{"never", "", "t-always t-never t-never-b"},
		{"b", "", "t-b t-always t-never-b"},
		{"untagged", "", "t-none t-always"},
		{"tagged", "", "t-a t-b t-always"},
		{"all", "", "t-none t-a t-b t-always"},
		{"always", "", "t-always"},
		{"", "always", "t-none t-a t-b"},
		{"", "tagged", "t-none"},
		{"", "untagged", "t-a t-b t-always"},
		{"", "all", "t-always"},
		{"b", "never", "t-b t-always"},
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("tags=%s,skip=%s", c.tags, c.skip), func(t *testing.T) {
			out, rec := l.play(t, context.Background(), "tags.yml", runner.PlayOptions{Tags: split(c.tags), SkipTags: split(c.skip)})
			checkExit(t, out, 0)
			var ran []string
			for _, e := range rec.snapshot() {
				if e.kind == "result" {
					ran = append(ran, e.name)
				}
			}
			if got := strings.Join(ran, " "); got != c.ran {
				t.Errorf("ran %q, want %q", got, c.ran)
			}
		})
	}
}

func TestPlayStartAtTask(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	// From ansible-playbook --start-at-task on start-at.yml, whose plays
	// both gather facts: a play before the start gathers none.
	cases := []struct {
		start, ran string
		ok         int
	}{
		{"p1-*", "Gathering Facts p1-a p1-b Gathering Facts p2-a p2-b p2-c", 7},
		{"p1-b", "Gathering Facts p1-b Gathering Facts p2-a p2-b p2-c", 6},
		{"p2-b", "Gathering Facts p2-b p2-c", 3},
		{"*-c", "Gathering Facts p2-c", 2},
	}
	for _, c := range cases {
		t.Run(c.start, func(t *testing.T) {
			out, rec := l.play(t, context.Background(), "start-at.yml", runner.PlayOptions{StartAtTask: c.start})
			checkExit(t, out, 0)
			var ran []string
			for _, e := range rec.snapshot() {
				if e.kind == "result" {
					ran = append(ran, e.name)
				}
			}
			if got := strings.Join(ran, " "); got != c.ran {
				t.Errorf("ran %q, want %q", got, c.ran)
			}
			checkRecap(t, out, map[string]string{"h0": fmt.Sprintf("ok=%d", c.ok)})
		})
	}
}

func TestPlayUndefinedVariable(t *testing.T) {
	l := newPlayLab(t, 3, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "when-undefined.yml", runner.PlayOptions{})
	checkExit(t, out, runner.ExitFailed)
	// On h1 and h2 the first condition is false, so `and` never reaches
	// the undefined variable.
	checkRecap(t, out, map[string]string{"h0": "failed=1", "h1": "skipped=1 failed=1", "h2": "skipped=2 failed=1"})
	for _, c := range []struct{ host, task, name string }{
		{"h0", "undefined in when", "nosuch_var"},
		{"h1", "undefined in args", "other_missing"},
		{"h2", "undefined loop", "missing_list"},
	} {
		res, ok := rec.result(c.host, c.task)
		if !ok || res.Status != report.TaskFailed {
			t.Errorf("%s %q: %+v, want failed", c.host, c.task, res)
			continue
		}
		if !strings.Contains(res.Msg, "'"+c.name+"' is undefined") {
			t.Errorf("%s %q: message %q does not name %s", c.host, c.task, res.Msg, c.name)
		}
	}
	if got := rec.ran("after"); len(got) != 0 {
		t.Errorf("\"after\" ran on failed hosts %v", got)
	}
}

func TestPlayLoops(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "loops.yml", runner.PlayOptions{})
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=8 changed=2 skipped=2"})
	for task, want := range map[string]string{
		"show loop":          `["a","b","c"]`,
		"show with_items":    `[1,2,3]`, // flattened one level
		"show loop_var":      `["one","two"]`,
		"show when per item": `[false,true,false]`,
	} {
		if got := rec.msg("h0", task); got != want {
			t.Errorf("%s: %s, want %s", task, got, want)
		}
	}
	itemsOf := func(task string) string {
		var s []string
		for _, it := range rec.items("h0", task) {
			s = append(s, statusName(it)+":"+it.Item)
		}
		return strings.Join(s, " ")
	}
	for task, want := range map[string]string{
		"loop":          "changed:a changed:b changed:c",
		"with_items":    "ok:1 ok:2 ok:3",
		"loop_var":      "ok:one ok:two", // the label
		"when per item": "changed:1 skipping:2 changed:3",
		"all skipped":   "skipping:1 skipping:2",
		"empty loop":    "",
	} {
		if got := itemsOf(task); got != want {
			t.Errorf("%s: items %q, want %q", task, got, want)
		}
	}
	for task, want := range map[string]string{
		"loop": "changed", "when per item": "changed", "all skipped": "skipping", "empty loop": "skipping"} {
		if got := rec.status("h0", task); got != want {
			t.Errorf("%s: %s, want %s", task, got, want)
		}
	}
}

func TestPlayRegister(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "register.yml", runner.PlayOptions{})
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=6 changed=3 ignored=1"})
	for task, want := range map[string]string{
		"not changed":       "ok",
		"rc 3 is fine":      "changed",
		"boom in stdout":    "ignored",
		"changed by output": "changed",
	} {
		if got := rec.status("h0", task); got != want {
			t.Errorf("%s: %s, want %s", task, got, want)
		}
	}
	// As ansible-playbook prints them.
	for task, want := range map[string]string{
		"show":        `["hi",false,3,true,true,true,true]`,
		"show failed": `[false,false,false]`, // every result says whether it failed
	} {
		if got := rec.msg("h0", task); got != want {
			t.Errorf("%s: %s, want %s", task, got, want)
		}
	}
}

func TestPlayRetries(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "retries.yml", runner.PlayOptions{})
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=3 changed=2 ignored=1"})
	if got := readFile(t, filepath.Join(l.root("h0"), "n")); got != "3\n" {
		t.Errorf("the counted command ran until it printed %q, want 3", got)
	}
	// Ansible reports attempts = retries (2), not 3, when the retries run
	// out.
	if got, want := rec.msg("h0", "show"), `[3,"3",2,true]`; got != want {
		t.Errorf("registered attempts: %s, want %s", got, want)
	}
}

func TestPlayRunOnce(t *testing.T) {
	l := newPlayLab(t, 3, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "run-once.yml", runner.PlayOptions{})
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=2 changed=1", "h1": "ok=1", "h2": "ok=1"})
	if got := rec.ran("once"); !slices.Equal(got, []string{"h0"}) {
		t.Errorf("run_once ran on %v, want [h0]", got)
	}
	for _, h := range []string{"h0", "h1", "h2"} {
		if got := rec.msg(h, "show"); got != `"h0"` {
			t.Errorf("%s sees the run_once result %s, want h0's", h, got)
		}
	}
	if n := l.servers[1].Stats().ExecCount + l.servers[2].Stats().ExecCount; n != 0 {
		t.Errorf("h1 and h2 ran %d commands, want none", n)
	}
}

func TestPlayDelegateToLocalhost(t *testing.T) {
	l := newPlayLab(t, 2, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "delegate.yml", runner.PlayOptions{})
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=3 changed=2", "h1": "ok=3 changed=2"})
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range []string{"h0", "h1"} {
		res, _ := rec.result(h, "on the controller")
		if res.Delegated != "localhost" {
			t.Errorf("%s: delegated to %q, want localhost", h, res.Delegated)
		}
		if got := res.Result["stdout"]; got != cwd {
			t.Errorf("%s: the delegated command ran in %v, want the controller's %s", h, got, cwd)
		}
		there, _ := rec.result(h, "on the host")
		if got := there.Result["stdout"]; got == cwd || got == "" {
			t.Errorf("%s: the host's command ran in %q, which is not the lab host's home", h, got)
		}
		if n := l.servers[i].Stats().ExecCount; n != 1 {
			t.Errorf("%s ran %d commands, want 1 (the delegated one runs on the controller)", h, n)
		}
	}
}

func TestPlayBlocks(t *testing.T) {
	l := newPlayLab(t, 2, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "block.yml", runner.PlayOptions{})
	checkExit(t, out, runner.ExitFailed)
	checkRecap(t, out, map[string]string{
		"h0": "ok=4 changed=1 failed=1 skipped=1",
		"h1": "ok=5 changed=1 skipped=1 rescued=1",
	})
	want := map[string][]string{ // task: status on h0, on h1
		"in block":      {"changed", "changed"},
		"fails on h1":   {"skipping", "failed"},
		"after failure": {"ok", "-"},
		"rescue":        {"-", "ok"},
		"always":        {"ok", "ok"},
		"fails on h0":   {"failed", "skipping"},
		"always two":    {"ok", "ok"},
		"end":           {"-", "ok"},
	}
	for task, w := range want {
		for i, h := range []string{"h0", "h1"} {
			if got := rec.status(h, task); got != w[i] {
				t.Errorf("%s %q: %s, want %s", h, task, got, w[i])
			}
		}
	}
	if got := rec.msg("h1", "rescue"); got != `"block failed"` {
		t.Errorf("ansible_failed_result.msg in the rescue: %s, want the failed task's message", got)
	}
}

func TestPlayIncludes(t *testing.T) {
	l := newPlayLab(t, 2, labhost.Options{}, nil)
	out, _ := l.play(t, context.Background(), "include/main.yml", runner.PlayOptions{})
	checkExit(t, out, 0)
	// Ansible counts an include_tasks once per host, and once per item
	// with a loop: 4 includes and 5 tasks.
	checkRecap(t, out, map[string]string{"h0": "ok=9 changed=5", "h1": "ok=9 changed=5"})
	for host, want := range map[string]string{"h0": "a\na\nx\ny\nimported\n", "h1": "a\nb\nx\ny\nimported\n"} {
		if got := readFile(t, filepath.Join(l.root(host), "log")); got != want {
			t.Errorf("%s: the included tasks wrote %q, want %q", host, got, want)
		}
	}
}

func TestPlayParallel(t *testing.T) {
	tasks := []string{"p1", "p2", "p3", "p4"}
	cases := []struct {
		name        string
		maxSessions int
	}{
		{"default session limit", 0},
		{"MaxSessions 2", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newPlayLab(t, 2, labhost.Options{MaxSessions: c.maxSessions}, nil)
			out, rec := l.play(t, context.Background(), "parallel.yml", runner.PlayOptions{})
			checkExit(t, out, 0)
			checkRecap(t, out, map[string]string{"h0": "ok=5 changed=4", "h1": "ok=5 changed=4"})
			after := rec.index(isTask("after"))
			for _, task := range tasks {
				if got := rec.ran(task); !slices.Equal(got, []string{"h0", "h1"}) {
					t.Errorf("%s ran on %v, want both hosts", task, got)
				}
				if i := rec.lastIndex(isResult("", task)); i > after {
					t.Errorf("%s reported (event %d) after the next task began (event %d)", task, i, after)
				}
			}
			for i, h := range []string{"h0", "h1"} {
				st := l.servers[i].Stats()
				if c.maxSessions > 0 {
					if st.MaxConcurrentSessions > int64(c.maxSessions) {
						t.Errorf("%s: %d sessions at once, over its limit %d", h, st.MaxConcurrentSessions, c.maxSessions)
					}
					continue
				}
				// Every task's span overlaps every other's: the latest
				// start is before the earliest end.
				var latestStart, earliestEnd time.Time
				for _, task := range tasks {
					res, _ := rec.result(h, task)
					if res.Start.IsZero() || res.End.IsZero() {
						t.Fatalf("%s %s: no start or end time: %+v", h, task, res)
					}
					if res.Start.After(latestStart) {
						latestStart = res.Start
					}
					if earliestEnd.IsZero() || res.End.Before(earliestEnd) {
						earliestEnd = res.End
					}
				}
				if !latestStart.Before(earliestEnd) {
					t.Errorf("%s: the parallel tasks did not overlap: the last started at %s, the first ended at %s",
						h, latestStart.Format(time.StampMicro), earliestEnd.Format(time.StampMicro))
				}
				if st.MaxConcurrentSessions < 2 || st.Connections != 1 {
					t.Errorf("%s: %d connections, at most %d sessions at once; want 1 and several", h, st.Connections, st.MaxConcurrentSessions)
				}
			}
		})
	}
}

func TestPlaySetFact(t *testing.T) {
	l := newPlayLab(t, 2, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "set-fact.yml", runner.PlayOptions{})
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=4", "h1": "ok=4"})
	for _, c := range []struct{ host, task, want string }{
		{"h0", "show own", `"h0-fact"`},
		{"h1", "show own", `"h1-fact"`},
		{"h0", "show other", `"h1-fact"`}, // through hostvars
		{"h1", "show other", `"h0-fact"`},
		{"h0", "still set", `"h0-fact"`}, // in the next play
		{"h1", "still set", `"h1-fact"`},
	} {
		if got := rec.msg(c.host, c.task); got != c.want {
			t.Errorf("%s %q: %s, want %s", c.host, c.task, got, c.want)
		}
	}
}

func TestPlayVarsPrecedence(t *testing.T) {
	inv := map[string]string{"color": "inv", "shade": "inv", "size": "inv", "tone": "inv"}
	cases := []struct {
		name  string
		extra []string
		want  [5]string // color, task vars, shade (set_fact), size, tone (vars_files)
	}{
		{"no extra vars", nil, [5]string{"play", "task", "fact", "inv", "file"}},
		{"extra vars", []string{"color=extra shade=extra size=extra tone=extra"}, [5]string{"extra", "extra", "extra", "extra", "extra"}},
	}
	l := newPlayLab(t, 1, labhost.Options{}, inv)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, rec := l.play(t, context.Background(), "precedence.yml", runner.PlayOptions{ExtraVars: extraVars(t, c.extra...)})
			checkExit(t, out, 0)
			for i, task := range []string{"color", "task vars", "shade", "size", "tone"} {
				if got, want := rec.msg("h0", task), strconv.Quote(c.want[i]); got != want {
					t.Errorf("%s: %s, want %s", task, got, want)
				}
			}
		})
	}
}

func TestPlayCheckMode(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "check.yml", runner.PlayOptions{Check: true})
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=3 changed=2 skipped=1"})
	for task, want := range map[string]string{"copy": "changed", "dir": "changed", "cmd": "skipping"} {
		if got := rec.status("h0", task); got != want {
			t.Errorf("%s: %s, want %s", task, got, want)
		}
	}
	if got := rec.msg("h0", "show mode"); got != "true" {
		t.Errorf("ansible_check_mode: %s, want true", got)
	}
	entries, err := os.ReadDir(l.root("h0"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("check mode made %s", e.Name())
	}
}

func TestPlayGatherFacts(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	out, rec := l.play(t, context.Background(), "facts.yml", runner.PlayOptions{})
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=2"})
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	short, _, _ := strings.Cut(host, ".")
	arch, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`[%q,"Linux",%q,%q]`, short, short, strings.TrimSpace(string(arch)))
	if got := rec.msg("h0", "show facts"); got != want {
		t.Errorf("facts: %s, want %s", got, want)
	}
	if res, _ := rec.result("h0", "Gathering Facts"); res.Status != report.TaskOK {
		t.Errorf("Gathering Facts: %s, want ok", statusName(res))
	}
}

func TestPlayUnreachable(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	l.addDead(t)
	out, rec := l.play(t, context.Background(), "unreachable.yml", runner.PlayOptions{})
	checkExit(t, out, runner.ExitUnreachable)
	checkRecap(t, out, map[string]string{"h0": "ok=3 changed=2", "dead": "unreachable=1"})
	if got := rec.status("dead", "one"); got != "unreachable" {
		t.Errorf("dead: %s, want unreachable", got)
	}
	for _, task := range []string{"two", "three"} {
		if got := rec.status("dead", task); got != "-" {
			t.Errorf("the unreachable host went on to %q: %s", task, got)
		}
	}
	for _, e := range rec.snapshot() {
		if e.kind == "play" && e.name == "second" && slices.Contains(e.play.Hosts, "dead") {
			t.Errorf("the second play lists the unreachable host: %v", e.play.Hosts)
		}
	}
}

func TestPlayInterrupted(t *testing.T) {
	// Registered first, this runs last: after the lab hosts and the pool
	// are closed, nothing the run started may be left.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	l := newPlayLab(t, 2, labhost.Options{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	books, opts, rec := l.prepare(t, "interrupt.yml", runner.PlayOptions{})
	ch := make(chan *runner.PlayOutcome, 1)
	go func() { ch <- runner.Play(ctx, l.pool, books, opts) }()
	deadline := time.Now().Add(10 * time.Second)
	for l.servers[0].Stats().ExecCount+l.servers[1].Stats().ExecCount < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the sleeps did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case out := <-ch:
		if !out.Interrupted {
			t.Errorf("outcome not interrupted: %+v", out)
		}
		checkExit(t, out, runner.ExitInterrupted)
		if got := rec.ran("never reached"); len(got) != 0 {
			t.Errorf("the task after the interrupt ran on %v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Play did not return within 10s of the interrupt")
	}
}

// TestPlayRecap runs playbooks whose recap counts (and files) alone show
// whether the executor does what ansible-playbook does.
func TestPlayRecap(t *testing.T) {
	cases := []struct {
		book  string
		hosts int
		recap map[string]string
		files map[string]string // "host/name" under the host's root: content
	}{
		{
			// A max_fail_percentage counts the failures of the play's batch
			// only: h0 failed in an earlier play, and 1 of 3 is below 50%.
			book: "max-fail-later-play.yml", hosts: 3,
			recap: map[string]string{"h0": "failed=1", "h1": "failed=1 skipped=1", "h2": "ok=1 skipped=2"},
		},
		{
			// With retries: 0, until is never checked.
			book: "until-no-retries.yml", hosts: 1,
			recap: map[string]string{"h0": "ok=2 changed=1"},
		},
		{
			// An ignored loop failure counts changed if an item changed.
			book: "loop-ignore.yml", hosts: 1,
			recap: map[string]string{"h0": "ok=2 changed=1 ignored=1"},
		},
		{
			// A failure that a rescue handles is not fatal under
			// any_errors_fatal.
			book: "any-errors-fatal-rescued.yml", hosts: 2,
			recap: map[string]string{"h0": "ok=1 skipped=1", "h1": "ok=2 rescued=1"},
		},
		{
			// Nor does it count toward max_fail_percentage.
			book: "max-fail-rescued.yml", hosts: 4,
			recap: map[string]string{
				"h0": "ok=2 rescued=1", "h1": "ok=2 rescued=1",
				"h2": "ok=1 skipped=1", "h3": "ok=1 skipped=1",
			},
		},
		{
			// A run_once task that fails fails every host; the others
			// count nothing, so Ansible's recap leaves them out.
			book: "run-once-fails.yml", hosts: 2,
			recap: map[string]string{"h0": "failed=1"},
		},
		{
			// A run_once set_fact sets the fact on every host.
			book: "run-once-set-fact.yml", hosts: 2,
			recap: map[string]string{"h0": "ok=2", "h1": "ok=1"},
		},
		{
			// A fatal error in a batch stops the later batches.
			book: "any-errors-fatal-serial.yml", hosts: 2,
			recap: map[string]string{"h0": "failed=1"},
		},
		{
			// Handlers run at the end of each serial batch.
			book: "serial-handlers.yml", hosts: 2,
			recap: map[string]string{"h0": "ok=2 changed=2", "h1": "ok=2 changed=2"},
			files: map[string]string{"h0/log": "task\nhandler\ntask\nhandler\n"},
		},
		{
			// A rescue that fails fails the host, after the always.
			book: "rescue-fails.yml", hosts: 1,
			recap: map[string]string{"h0": "ok=1 failed=1 rescued=1"},
		},
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.book, ".yml"), func(t *testing.T) {
			l := newPlayLab(t, c.hosts, labhost.Options{}, nil)
			out, _ := l.play(t, context.Background(), c.book, runner.PlayOptions{})
			checkRecap(t, out, c.recap)
			for name, want := range c.files {
				host, file, _ := strings.Cut(name, "/")
				if got := readFile(t, filepath.Join(l.root(host), file)); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
		})
	}
}

// Facts and every task's commands on a host run in one long-lived shell
// session, each as if alone; SessionPerCommand gives each its own.
func TestPlayCommandsShareOneShell(t *testing.T) {
	for _, c := range []struct {
		perCommand bool
		sessions   int64
	}{{false, 1}, {true, 6}} { // facts and five tasks
		t.Run(fmt.Sprint("SessionPerCommand=", c.perCommand), func(t *testing.T) {
			l := newPlayLab(t, 2, labhost.Options{}, nil)
			out, rec := l.play(t, context.Background(), "shell-reuse.yml", runner.PlayOptions{SessionPerCommand: c.perCommand})
			checkExit(t, out, 0)
			checkRecap(t, out, map[string]string{"h0": "ok=6 changed=5 ignored=1", "h1": "ok=6 changed=5 ignored=1"})
			for i, h := range []string{"h0", "h1"} {
				home, _ := rec.result(h, "command module")
				if r, _ := rec.result(h, "nothing is left"); !strings.HasSuffix(fmt.Sprint(r.Result["stdout"]), "|unset|0022") || strings.HasPrefix(fmt.Sprint(r.Result["stdout"]), "/|") {
					t.Errorf("%s: the next task saw %q", h, r.Result["stdout"])
				}
				if r, _ := rec.result(h, "a failing command"); r.Result["rc"] != int64(4) || r.Result["stderr"] != "oops" {
					t.Errorf("%s: failing command: rc %v stderr %q", h, r.Result["rc"], r.Result["stderr"])
				}
				if r, _ := rec.result(h, "after the failure"); r.Result["stdout"] != "still here" || home.Result["stdout"] != "argv" {
					t.Errorf("%s: after the failure %q, argv %q", h, r.Result["stdout"], home.Result["stdout"])
				}
				if n := l.servers[i].Stats().ExecCount; n != c.sessions {
					t.Errorf("%s: %d sessions ran commands, want %d", h, n, c.sessions)
				}
			}
		})
	}
}
