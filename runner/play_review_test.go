package runner_test

// Review tests of the playbook executor: each shows a place where
// runner.Play does not do what ansible-playbook 2.14 does (checked against
// the real ansible-playbook with local-connection hosts), or hangs, or
// leaks. The playbooks are inline; timeouts only guard against hangs.

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/playbook"
	"fleetrun.dev/fleet/runner"
	"fleetrun.dev/fleet/vars"
)

// reviewPlay writes book to a temp directory and runs it on the lab, as
// playLab.play does for the playbooks in testdata.
func reviewPlay(t *testing.T, l *playLab, ctx context.Context, book string, opts runner.PlayOptions) (*runner.PlayOutcome, *playRecorder) {
	t.Helper()
	books, opts, rec := reviewPrepare(t, l, book, opts)
	return runner.Play(ctx, l.pool, books, opts), rec
}

// reviewPrepare writes book to a temp directory, loads it and fills in
// opts for the lab.
func reviewPrepare(t *testing.T, l *playLab, book string, opts runner.PlayOptions) ([]*playbook.Playbook, runner.PlayOptions, *playRecorder) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "book.yml")
	if err := os.WriteFile(path, []byte(book), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, err := playbook.Load(path)
	if err != nil {
		t.Fatalf("loading the playbook: %v", err)
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

// Ansible evaluates when before it complains about a loop it could not
// template: `loop: "{{ x }}"` with `when: x is defined` is skipped when x
// is undefined (ansible-playbook: skipping, skipped=1).
func TestReviewLoopUndefinedWhenFalse(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	out, rec := reviewPlay(t, l, context.Background(), `
- hosts: all
  gather_facts: false
  tasks:
    - name: guarded loop
      debug: msg="{{ item }}"
      loop: "{{ nope }}"
      when: nope is defined
    - name: after
      debug: msg=after
`, runner.PlayOptions{})
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=1 skipped=1"})
	if got := rec.status("h0", "guarded loop"); got != "skipping" {
		t.Errorf("guarded loop: %s, want skipping", got)
	}
}

// changed_when and failed_when see the task's variables, and the result
// only under its register name: a play variable rc is not shadowed by
// the module's rc (ansible-playbook: changed).
func TestReviewChangedWhenSeesPlayVarsNotResult(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	out, rec := reviewPlay(t, l, context.Background(), `
- hosts: all
  gather_facts: false
  vars:
    rc: 5
  tasks:
    - name: t
      command: "true"
      changed_when: rc == 5
`, runner.PlayOptions{})
	checkRecap(t, out, map[string]string{"h0": "ok=1 changed=1"})
	if got := rec.status("h0", "t"); got != "changed" {
		t.Errorf("t: %s, want changed (rc is the play's 5, not the module's 0)", got)
	}
}

// ansible_play_hosts is every host of the play not yet failed, across
// serial batches; ansible_play_hosts_all is every host of the pattern,
// failed in an earlier play or not. ansible-playbook prints these lists.
func TestReviewPlayHostsMagicVars(t *testing.T) {
	l := newPlayLab(t, 4, labhost.Options{}, nil)
	out, rec := reviewPlay(t, l, context.Background(), `
- hosts: all
  gather_facts: false
  tasks:
    - fail:
      when: inventory_hostname == 'h3'
- hosts: all
  gather_facts: false
  serial: 2
  tasks:
    - fail:
      when: inventory_hostname == 'h1'
    - name: show
      debug:
        msg: "{{ [ansible_play_hosts, ansible_play_batch, ansible_play_hosts_all] }}"
`, runner.PlayOptions{})
	checkExit(t, out, runner.ExitFailed)
	for host, want := range map[string]string{
		"h0": `[["h0","h2"],["h0"],["h0","h1","h2","h3"]]`,
		"h2": `[["h0","h2"],["h2"],["h0","h1","h2","h3"]]`,
	} {
		if got := rec.msg(host, "show"); got != want {
			t.Errorf("%s: [play_hosts, play_batch, play_hosts_all] = %s\n    want %s", host, got, want)
		}
	}
}

// any_errors_fatal also ends the play when a host is unreachable, in a
// task or in Gathering Facts (ansible-playbook: NO MORE HOSTS LEFT, "two"
// runs nowhere).
func TestReviewAnyErrorsFatalUnreachable(t *testing.T) {
	cases := []struct {
		name, gather string
		recap        map[string]string
	}{
		{"in a task", "false", map[string]string{"h0": "ok=1 changed=1", "dead": "unreachable=1"}},
		{"in gathering facts", "true", map[string]string{"h0": "ok=1", "dead": "unreachable=1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newPlayLab(t, 1, labhost.Options{}, nil)
			l.addDead(t)
			out, rec := reviewPlay(t, l, context.Background(), `
- hosts: all
  gather_facts: `+c.gather+`
  any_errors_fatal: true
  tasks:
    - name: one
      command: "true"
    - name: two
      debug: msg=two
`, runner.PlayOptions{})
			checkRecap(t, out, c.recap)
			if got := rec.ran("two"); len(got) != 0 {
				t.Errorf("\"two\" ran on %v after a host was unreachable under any_errors_fatal", got)
			}
		})
	}
}

// no_log hides a task's output: a secret the command prints must not
// reach the output, even when the task fails.
func TestReviewNoLog(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	out, rec := reviewPlay(t, l, context.Background(), `
- hosts: all
  gather_facts: false
  tasks:
    - name: secret
      shell: echo s3cret-value; exit 1
      no_log: true
      ignore_errors: true
`, runner.PlayOptions{})
	checkRecap(t, out, map[string]string{"h0": "ok=1 changed=1 ignored=1"})
	if text := rec.out.String(); strings.Contains(text, "s3cret-value") {
		t.Errorf("a no_log task's output was printed:\n%s", text)
	}
	if res, _ := rec.result("h0", "secret"); res.Result["_ansible_no_log"] != true {
		t.Errorf("the result of a no_log task is not marked _ansible_no_log, so no sink can hide it: %v", res.Result)
	}
}

// A vars_files name may use facts: Ansible skips a file whose name is
// undefined before facts are gathered and reads it for every task after
// (the classic "{{ ansible_os_family }}.yml"; ansible-playbook prints
// blue, ok=2). fleet reads vars_files once, before Gathering Facts, and
// fails the host.
func TestReviewVarsFilesFromFacts(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	books, opts, rec := reviewPrepare(t, l, `
- hosts: all
  gather_facts: true
  vars_files: ["{{ ansible_system }}.yml"]
  tasks:
    - name: show
      debug: msg="{{ color }}"
`, runner.PlayOptions{})
	if err := os.WriteFile(filepath.Join(books[0].Dir, "Linux.yml"), []byte("color: blue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runner.Play(context.Background(), l.pool, books, opts)
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=2"})
	if got := rec.msg("h0", "show"); got != `"blue"` {
		t.Errorf("color from Linux.yml: %s, want \"blue\"", got)
	}
}

// A delegate_to: localhost command ends at its timeout, even when the
// shell has forked a child that holds its output open.
func TestReviewDelegatedTimeoutKillsChildren(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	books, opts, rec := reviewPrepare(t, l, `
- hosts: all
  gather_facts: false
  tasks:
    - name: slow
      shell: sleep 30; echo done
      delegate_to: localhost
      timeout: 1
`, runner.PlayOptions{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		runner.Play(context.Background(), l.pool, books, opts)
	}()
	select {
	case <-done:
		if got := rec.status("h0", "slow"); got != "failed" {
			t.Errorf("slow: %s, want failed (timed out)", got)
		}
	case <-time.After(15 * time.Second):
		t.Error("a delegated task with timeout: 1 was still running 15s later: localConn.Run waits for the shell's children")
		<-done // the run owns the lab; let it end before the cleanups
	}
}

// meta and run_once inside a parallel block are refused before anything
// runs, with the file and line (runParallel runs its tasks through exec,
// which knows neither).
func TestReviewParallelRefusesMetaAndRunOnce(t *testing.T) {
	cases := []struct{ name, task, want string }{
		{"flush_handlers", "- meta: flush_handlers", "meta"},
		{"run_once", "- {name: once, command: \"true\", run_once: true}", "run_once"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "book.yml")
			book := "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: together\n      parallel:\n        " +
				c.task + "\n        - {name: beside, command: \"true\"}\n"
			if err := os.WriteFile(path, []byte(book), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := playbook.Load(path)
			if err == nil || !strings.Contains(err.Error(), "book.yml:6") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("loading a parallel block with %s: %v; want an error at book.yml:6 naming %s", c.name, err, c.want)
			}
		})
	}
}

// The connection variables ansible_become and ansible_become_user beat
// the become and become_user keywords, as every variable beats a keyword
// in Ansible (ansible-playbook prints root for both cases, running as
// root). Needs root and sudo, as the lab hosts run commands as this user.
func TestReviewBecomeVarsBeatKeywords(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: sudo -u nobody without a password")
	}
	if err := exec.Command("sudo", "-n", "-u", "nobody", "true").Run(); err != nil {
		t.Skipf("sudo -n -u nobody does not work here: %v", err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		inv  map[string]string
	}{
		{"ansible_become false", map[string]string{"ansible_become": "false"}},
		{"ansible_become_user", map[string]string{"ansible_become_user": me.Username}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newPlayLab(t, 1, labhost.Options{}, c.inv)
			out, rec := reviewPlay(t, l, context.Background(), `
- hosts: all
  gather_facts: false
  become: true
  become_user: nobody
  tasks:
    - command: whoami
      register: w
    - name: who
      debug: msg="{{ w.stdout }}"
`, runner.PlayOptions{})
			checkExit(t, out, 0)
			if got, want := rec.msg("h0", "who"), `"`+me.Username+`"`; got != want {
				t.Errorf("the command ran as %s, want %s", got, want)
			}
		})
	}
}

// sudo reads the -K password from stdin only when it asks for one; the
// executor probes with sudo -n on remote hosts, but not for delegate_to:
// localhost, where the password then reaches the command as its input
// (here: as root, whom sudo never asks, `cat` prints it).
func TestReviewDelegatedBecomePasswordNotFedToCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: sudo that asks no password")
	}
	if err := exec.Command("sudo", "-n", "true").Run(); err != nil {
		t.Skipf("sudo -n does not work here: %v", err)
	}
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	out, rec := reviewPlay(t, l, context.Background(), `
- hosts: all
  gather_facts: false
  tasks:
    - name: reads stdin
      shell: cat
      delegate_to: localhost
      become: true
`, runner.PlayOptions{BecomePassword: "pw-s3cret"})
	checkExit(t, out, 0)
	if text := rec.out.String(); strings.Contains(text, "pw-s3cret") {
		t.Errorf("the become password reached the command's input and the output:\n%s", text)
	}
	if res, _ := rec.result("h0", "reads stdin"); strings.Contains(strings.Join([]string{res.Msg, res.Result["stdout"].(string)}, ""), "pw-s3cret") {
		t.Errorf("the become password is in the registered stdout: %q", res.Result["stdout"])
	}
}

// An interrupted run reports nothing for the tasks it cut short: Ansible
// prints no result for them, where fleet printed each in-flight host as
// failed ("context canceled"), one line per host.
func TestReviewInterruptReportsNoFailures(t *testing.T) {
	l := newPlayLab(t, 2, labhost.Options{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	books, opts, rec := reviewPrepare(t, l, `
- hosts: all
  gather_facts: false
  tasks:
    - name: sleep
      command: sleep 30
`, runner.PlayOptions{})
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
		checkExit(t, out, runner.ExitInterrupted)
		for _, res := range rec.results("sleep") {
			t.Errorf("%s: reported %s (%s) for a task cut short by the interrupt", res.Host, statusName(res), res.Msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Play did not return within 10s of the interrupt")
	}
}

// A parallel block on a host that takes one session at a time: copies
// (SFTP, and a umask command for a new file) beside commands must all
// finish.
func TestReviewParallelMaxSessionsOne(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{MaxSessions: 1}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, rec := reviewPlay(t, l, ctx, `
- hosts: all
  gather_facts: false
  tasks:
    - name: together
      parallel:
        - {name: c1, copy: {content: "1\n", dest: "{{ root }}/c1", mode: "0600"}}
        - {name: c2, copy: {content: "2\n", dest: "{{ root }}/c2"}}
        - {name: s1, shell: "sleep 0.3; echo s1 > {{ root }}/s1"}
        - {name: f1, file: {path: "{{ root }}/d", state: directory}}
        - {name: s2, command: "true", become: true}
`, runner.PlayOptions{})
	if ctx.Err() != nil {
		t.Fatal("the parallel block on a MaxSessions 1 host did not finish within 60s")
	}
	checkExit(t, out, 0)
	checkRecap(t, out, map[string]string{"h0": "ok=5 changed=5"})
	_ = rec
}

// ansible_failed_task and ansible_failed_result stay set after the block
// that rescued the host, as Ansible keeps them (non-persistent facts);
// ansible_play_hosts keeps a host that waits for its rescue.
func TestPlayFailedTaskOutlivesRescue(t *testing.T) {
	l := newPlayLab(t, 2, labhost.Options{}, nil)
	out, rec := reviewPlay(t, l, context.Background(), `
- hosts: all
  gather_facts: false
  tasks:
    - block:
        - name: breaks
          fail:
            msg: broken on purpose
          when: inventory_hostname == 'h0'
        - name: while h0 waits
          debug:
            msg: "{{ ansible_play_hosts }}"
      rescue:
        - debug: msg=rescued
    - name: after
      debug:
        msg: "{{ ansible_failed_task.name | default('none') }}: {{ ansible_failed_result.msg | default('none') }}"
`, runner.PlayOptions{})
	checkExit(t, out, runner.ExitOK)
	if got, want := rec.msg("h0", "after"), `"breaks: broken on purpose"`; got != want {
		t.Errorf("h0 after the rescue: %q, want %q", got, want)
	}
	if got, want := rec.msg("h1", "while h0 waits"), `["h0","h1"]`; got != want {
		t.Errorf("ansible_play_hosts while h0 waits for its rescue: %s, want %s", got, want)
	}
}

// A copy whose connection dies mid-file leaves the old file whole and no
// staging directory behind: the play tidies up over a new connection, as
// fleet push does, and the host is unreachable.
func TestPlayCopyLostConnectionLeavesNothing(t *testing.T) {
	l := newPlayLab(t, 1, labhost.Options{}, nil)
	src := filepath.Join(t.TempDir(), "big.bin")
	data := make([]byte, 256<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	root, _ := l.hosts[0].Vars.Get("root")
	dir := root.(string)
	dest := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(dest, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".fleet-") {
					if sub, _ := os.ReadDir(filepath.Join(dir, e.Name())); len(sub) > 0 {
						l.servers[0].KillConnections()
						return
					}
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	out, _ := reviewPlay(t, l, ctx, `
- hosts: all
  gather_facts: false
  tasks:
    - copy:
        src: `+src+`
        dest: "{{ root }}/big.bin"
`, runner.PlayOptions{})
	cancel()
	<-done
	if out.ExitCode() == runner.ExitOK {
		t.Skip("the copy finished before its connection could be killed")
	}
	checkExit(t, out, runner.ExitUnreachable)
	if got, _ := os.ReadFile(dest); string(got) != "old\n" {
		t.Errorf("the old file was not kept whole: %d bytes", len(got))
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "big.bin" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
