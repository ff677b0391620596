package runner

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"fleetrun.dev/fleet/jinja"
	"fleetrun.dev/fleet/playbook"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/transfer"
	"fleetrun.dev/fleet/vars"
)

// PlayOptions describe a playbook run.
type PlayOptions struct {
	// Select returns the hosts a play's `hosts:` pattern names, narrowed
	// by --limit, in inventory order.
	Select func(pattern string) ([]Host, error)
	// HostVars holds every inventory host's variables by name, for
	// hostvars of hosts outside the play.
	HostVars map[string]*vars.Map

	ExtraVars      *vars.Map
	Tags, SkipTags []string
	Check, Diff    bool
	StartAtTask    string
	Forks          int
	// Become and BecomeUser are -b and --become-user; nil leaves it to the
	// playbook and the inventory. BecomePassword is -K's answer.
	Become         *bool
	BecomeUser     string
	BecomePassword string
	// SessionPerCommand runs every command in a session of its own; by
	// default a host's commands run in one long-lived shell session
	// (muxconn.Shell), as fleet run's do.
	SessionPerCommand bool

	Sink report.PlaySink
}

// PlayOutcome is what a playbook run did.
type PlayOutcome struct {
	Recap       []report.RecapRow
	Interrupted bool
}

// ExitCode maps the outcome to fleet's exit codes: a failed host sets bit
// 2, an unreachable one bit 4.
func (o *PlayOutcome) ExitCode() int {
	if o.Interrupted {
		return ExitInterrupted
	}
	code := ExitOK
	for _, r := range o.Recap {
		if r.Failed > 0 {
			code |= ExitFailed
		}
		if r.Unreachable > 0 {
			code |= ExitUnreachable
		}
	}
	return code
}

// playRun is one `fleet play`: the hosts' state lives across its plays,
// as facts, set_fact and failed hosts do in Ansible.
type playRun struct {
	conn   Connector
	opts   PlayOptions
	engine *jinja.Engine
	sink   report.PlaySink
	local  string // a scratch directory on the controller

	mu      sync.Mutex
	hosts   map[string]*hostState
	started bool // --start-at-task has been reached

	headers sync.Map // free strategy: tasks whose header was printed

	hvOnce sync.Once
	hv     map[string]any // hostvars

	localSudo sudoProbes // does sudo want a password on the controller?
}

// Play runs the playbooks' plays in order against the hosts each names.
// It returns when every play is done, a play stops the run (every host
// of a batch failed, max_fail_percentage, any_errors_fatal), or ctx ends.
func Play(ctx context.Context, conn Connector, books []*playbook.Playbook, opts PlayOptions) *PlayOutcome {
	if opts.Forks <= 0 {
		opts.Forks = DefaultForks
	}
	r := &playRun{conn: conn, opts: opts, engine: jinja.New(), sink: opts.Sink,
		hosts: map[string]*hostState{}, started: opts.StartAtTask == ""}
	dir, err := os.MkdirTemp("", "fleet-play-")
	if err == nil {
		r.local = dir
		defer os.RemoveAll(dir)
	}
	defer r.release()
	out := &PlayOutcome{}
plays:
	for _, pb := range books {
		for _, p := range pb.Plays {
			if ctx.Err() != nil {
				break plays
			}
			if stop := r.play(ctx, pb, p); stop {
				break plays
			}
		}
	}
	out.Interrupted = ctx.Err() != nil
	out.Recap = r.recap()
	if !out.Interrupted {
		r.sink.Recap(out.Recap)
	}
	return out
}

// release gives back every host's master.
func (r *playRun) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.hosts {
		h.release()
	}
}

func (r *playRun) recap() []report.RecapRow {
	r.mu.Lock()
	defer r.mu.Unlock()
	rows := make([]report.RecapRow, 0, len(r.hosts))
	for _, h := range r.hosts {
		h.mu.Lock()
		row, counted := h.stats, h.counted
		h.mu.Unlock()
		if !counted {
			// Ansible lists only hosts that ran something: not those of
			// batches a stopped play never started.
			continue
		}
		row.Host = h.name
		rows = append(rows, row)
	}
	// Ansible sorts its recap by host name.
	sort.Slice(rows, func(i, j int) bool { return rows[i].Host < rows[j].Host })
	return rows
}

// state returns the run's state of h, made on first use.
func (r *playRun) state(h Host) *hostState {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.hosts[h.Name]
	if !ok {
		s = newHostState(h, r.opts.SessionPerCommand)
		r.hosts[h.Name] = s
	}
	return s
}

// known returns the run's state of the host named name, or nil.
func (r *playRun) known(name string) *hostState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hosts[name]
}

// hostVars returns the variables of any inventory host, for hostvars: the
// run's state for hosts it has met, the inventory's for others.
func (r *playRun) hostVars(name string) (jinja.Vars, bool) {
	r.mu.Lock()
	s, ok := r.hosts[name]
	r.mu.Unlock()
	if ok {
		return s.varsView(r), true
	}
	m, ok := r.opts.HostVars[name]
	if !ok {
		return nil, false
	}
	return layers{r.extraLayer(), mapLayer{m}}, true
}

// playCtx is one play's running state.
type playCtx struct {
	book    *playbook.Playbook
	play    *playbook.Play
	vars    *vars.Map // the play's vars
	hosts   []string  // the play's hosts that run
	all     []string  // ansible_play_hosts_all: every host the pattern matched
	free    bool
	abort   bool // the play stops: any_errors_fatal, max_fail_percentage
	abortMu sync.Mutex
	batch   []*hostState // the batch's hosts that run
	// batchSize counts the batch's hosts, with those out since an
	// earlier play, as max_fail_percentage does in Ansible.
	batchSize int
	handlers  []*playbook.Task
	names     sync.Map // task → its rendered name
}

func (pc *playCtx) aborted() bool {
	pc.abortMu.Lock()
	defer pc.abortMu.Unlock()
	return pc.abort
}

func (pc *playCtx) setAbort() {
	pc.abortMu.Lock()
	pc.abort = true
	pc.abortMu.Unlock()
}

// play runs one play; stop is true when the whole run must stop.
func (r *playRun) play(ctx context.Context, pb *playbook.Playbook, p *playbook.Play) (stop bool) {
	pattern := p.Hosts
	if jinja.IsTemplate(pattern) {
		v, err := r.engine.Render(pattern, layers{r.extraLayer(), mapLayer{p.Vars}})
		if err != nil {
			r.sink.Warn(fmt.Sprintf("%s: play hosts %q: %v; skipping the play", p.Pos, pattern, err))
			return false
		}
		pattern = jinja.String(v)
	}
	selected, err := r.opts.Select(pattern)
	if err != nil {
		r.sink.Warn(fmt.Sprintf("%s: %v; skipping the play", p.Pos, err))
		return false
	}
	// Hosts that failed or were unreachable in an earlier play don't run,
	// but (as in Ansible) they still take their place in serial batches.
	var all, states []*hostState
	var names []string
	for _, h := range selected {
		s := r.state(h)
		all = append(all, s)
		if s.gone() {
			continue
		}
		states = append(states, s)
		names = append(names, h.Name)
	}
	pc := &playCtx{book: pb, play: p, hosts: names, all: stateNames(all), free: p.Strategy == "free", handlers: p.Handlers}
	if len(states) == 0 {
		r.sink.Play(report.PlayStart{Name: r.playName(p), Pos: p.Pos.String(), Check: r.opts.Check})
		return false // the sink says "skipping: no hosts matched"
	}
	pc.vars = p.Vars
	for _, batch := range batches(p.Serial, all) {
		if ctx.Err() != nil {
			return true
		}
		pc.batch = slices.DeleteFunc(slices.Clone(batch), (*hostState).gone)
		pc.batchSize = len(batch)
		if len(pc.batch) == 0 {
			continue
		}
		for _, s := range pc.batch {
			s.beginPlay()
		}
		// Ansible announces the play again for every serial batch.
		r.sink.Play(report.PlayStart{Name: r.playName(p), Pos: p.Pos.String(), Hosts: stateNames(pc.batch), Check: r.opts.Check})
		r.runBatch(ctx, pc)
		failed := 0
		for _, s := range pc.batch {
			if s.isFailed() || s.isUnreachable() {
				failed++
			}
		}
		// Ansible stops the run when every host of a batch failed in it
		// (counting the batch's hosts that were out before it began).
		if pc.aborted() || failed == len(batch) {
			// Ansible ends the whole run when a batch fails entirely or
			// a play is aborted.
			return true
		}
	}
	return false
}

// playName is the PLAY [...] title: the name, else the host pattern.
func (r *playRun) playName(p *playbook.Play) string {
	if p.Name == "" {
		return p.Hosts
	}
	if jinja.IsTemplate(p.Name) {
		if v, err := r.engine.Render(p.Name, layers{r.extraLayer(), mapLayer{p.Vars}}); err == nil {
			return jinja.String(v)
		}
	}
	return p.Name
}

// loadVarsFiles reads the play's vars_files for each host, once its facts
// are in: their names may use any of its variables, as in Ansible. A host
// whose files can't be read fails.
func (r *playRun) loadVarsFiles(pc *playCtx, hosts []*hostState) {
	if len(pc.play.VarsFiles) == 0 {
		for _, s := range hosts {
			s.mu.Lock()
			s.playFiles = nil // an earlier play's files are gone
			s.mu.Unlock()
		}
		return
	}
	var t *playbook.Task
	for _, s := range hosts {
		m, err := r.varsFiles(pc, s)
		if err != nil {
			if t == nil {
				t = &playbook.Task{Pos: pc.play.Pos, Name: "vars_files", Module: "vars_files"}
				r.header(pc, t, false, "")
			}
			r.record(pc, t, s, failed(err.Error(), t), false)
			continue
		}
		s.mu.Lock()
		s.playFiles = m
		s.mu.Unlock()
	}
}

// varsFiles reads a play's vars_files for one host, later files winning.
// A name may use the host's variables, as in Ansible.
func (r *playRun) varsFiles(pc *playCtx, s *hostState) (*vars.Map, error) {
	out := vars.NewMap()
	for _, f := range pc.play.VarsFiles {
		name := f
		if jinja.IsTemplate(f) {
			v, err := r.engine.Render(f, r.scope(pc, nil, s, nil))
			if err != nil {
				return nil, fmt.Errorf("vars_files %q: %v", f, err)
			}
			name = jinja.String(v)
		}
		m, err := loadVarsFile(pc.book.Dir, name)
		if err != nil {
			return nil, err
		}
		for _, k := range m.Keys() {
			v, _ := m.Get(k)
			out.Set(k, v)
		}
	}
	return out, nil
}

func loadVarsFile(dir, name string) (*vars.Map, error) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, name)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vars_files: %v", err)
	}
	v, _, err := vars.Decode(path, data)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return vars.NewMap(), nil
	}
	m, ok := v.(*vars.Map)
	if !ok {
		return nil, fmt.Errorf("vars_files: %s holds a %T, not a mapping of variables", path, v)
	}
	return m, nil
}

// batches splits hosts by a play's serial: sizes in order, the last one
// repeating; a percentage is of all the play's hosts, at least one.
func batches(serial []playbook.Serial, hosts []*hostState) [][]*hostState {
	if len(serial) == 0 {
		return [][]*hostState{hosts}
	}
	var out [][]*hostState
	i := 0
	for rest := hosts; len(rest) > 0; i++ {
		s := serial[min(i, len(serial)-1)]
		n := s.N
		if s.Percent {
			n = int(math.Floor(float64(len(hosts)) * float64(s.N) / 100))
		}
		n = max(n, 1)
		n = min(n, len(rest))
		out = append(out, rest[:n])
		rest = rest[n:]
	}
	return out
}

// runBatch runs a play's sections on a batch of hosts: facts, pre_tasks,
// tasks and post_tasks, flushing handlers after each section.
func (r *playRun) runBatch(ctx context.Context, pc *playCtx) {
	p := pc.play
	sections := [][]*playbook.Task{p.PreTasks, p.Tasks, p.PostTasks}
	body := func(ctx context.Context, hosts []*hostState) {
		// With --start-at-task, facts are gathered only from the play
		// that holds the task on (as Ansible does).
		if p.GatherFacts && (r.hasStarted() || p.HasTask(r.opts.StartAtTask)) {
			r.gatherFacts(ctx, pc, hosts)
		}
		r.loadVarsFiles(pc, r.live(pc, hosts))
		for _, tasks := range sections {
			r.runList(ctx, pc, tasks, hosts, false)
			r.flushHandlers(ctx, pc, hosts)
		}
	}
	if !pc.free {
		body(ctx, pc.batch)
		return
	}
	// The free strategy: every host goes through the play on its own, as
	// fast as it can.
	eachState(ctx, pc.batch, r.opts.Forks, func(s *hostState) {
		body(ctx, []*hostState{s})
	})
}

// eachState calls do for each host, at most forks at once, and waits.
func eachState(ctx context.Context, hosts []*hostState, forks int, do func(*hostState)) {
	if len(hosts) == 1 {
		do(hosts[0])
		return
	}
	sem := make(chan struct{}, max(forks, 1))
	var wg sync.WaitGroup
	for _, s := range hosts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			do(s)
		}()
	}
	wg.Wait()
}

// live returns the hosts of hs still in the play.
func (r *playRun) live(pc *playCtx, hs []*hostState) []*hostState {
	if pc.aborted() {
		return nil
	}
	return slices.DeleteFunc(slices.Clone(hs), (*hostState).out)
}

// become decides how a task's commands run on a host: the task's
// become, else the play's, else -b, else the inventory's ansible_become.
func (r *playRun) become(pc *playCtx, t *playbook.Task, s *hostState, scope jinja.Vars) (*transfer.Become, error) {
	// Ansible's order: connection variables (ansible_become*) beat the
	// task's keywords, which beat the play's, which beat -b.
	on, user := false, ""
	if v, ok := scope.Get("ansible_become"); ok {
		rv, err := r.engine.Render(v, scope)
		if err != nil {
			return nil, err
		}
		on = jinja.Truthy(boolish(rv))
	} else if t.Become != nil {
		on = *t.Become
	} else if pc.play.Become != nil {
		on = *pc.play.Become
	} else if r.opts.Become != nil {
		on = *r.opts.Become
	}
	if !on {
		return nil, nil
	}
	if v, ok := scope.Get("ansible_become_user"); ok {
		user = fmt.Sprint(v)
	} else if t.BecomeUser != "" {
		user = t.BecomeUser
	} else if pc.play.BecomeUser != "" {
		user = pc.play.BecomeUser
	} else {
		user = r.opts.BecomeUser
	}
	if jinja.IsTemplate(user) {
		v, err := r.engine.Render(user, scope)
		if err != nil {
			return nil, err
		}
		user = jinja.String(v)
	}
	b := &transfer.Become{User: user, Password: r.opts.BecomePassword}
	if b.Password == "" {
		for _, name := range []string{"ansible_become_password", "ansible_become_pass"} {
			if v, ok := scope.Get(name); ok {
				if _, vault := v.(vars.Vault); vault {
					return nil, fmt.Errorf("%s is vault-encrypted, which fleet can't read; use --ask-become-pass", name)
				}
				rv, err := r.engine.Render(v, scope)
				if err != nil {
					return nil, err
				}
				b.Password = jinja.String(rv)
				break
			}
		}
	}
	if v, ok := scope.Get("ansible_become_method"); ok && fmt.Sprint(v) != "sudo" {
		return nil, fmt.Errorf("ansible_become_method %v is not supported; fleet becomes with sudo", v)
	}
	return b, nil
}

// boolish reads yes/no strings as booleans, as Ansible's become does.
func boolish(v any) any {
	if s, ok := v.(string); ok {
		switch s {
		case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "1", "y":
			return true
		case "no", "No", "NO", "false", "False", "FALSE", "off", "0", "n", "":
			return false
		}
	}
	return v
}

func stateNames(hs []*hostState) []string {
	out := make([]string, len(hs))
	for i, s := range hs {
		out[i] = s.name
	}
	return out
}

func (r *playRun) hasStarted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started
}
