package runner

import (
	"context"
	"maps"
	"sync"

	"fleetrun.dev/fleet/jinja"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/playbook"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/transfer"
	"fleetrun.dev/fleet/vars"
)

// hostState is one host's state across a playbook run.
type hostState struct {
	name string
	host Host

	mu          sync.Mutex
	facts       map[string]any // gathered: ansible_facts
	set         map[string]any // set_fact and register, which outlive a play
	failed      bool           // failed a task; out for the rest of the run
	rescuing    bool           // failed in a block whose rescue will run for it
	unreachable bool
	stats       report.RecapRow
	counted     bool                    // the host has a result: it has a line in the recap
	notified    map[*playbook.Task]bool // handlers to run at the next flush
	rescue      map[string]any          // ansible_failed_task/result: kept after the rescue, as Ansible keeps them
	sudo        sudoProbes              // does sudo want a password here?
	playFiles   *vars.Map               // the current play's vars_files, read for this host

	connOnce sync.Once
	m        *muxconn.Master
	mErr     error
	// sh runs the host's commands without stdin, one at a time, in one
	// long-lived session; nil with perCommand (PlayOptions.SessionPerCommand).
	sh         *muxconn.Shell
	perCommand bool
}

func newHostState(h Host, perCommand bool) *hostState {
	return &hostState{name: h.Name, host: h, set: map[string]any{}, notified: map[*playbook.Task]bool{}, perCommand: perCommand}
}

// master returns the host's master, connecting on first use. A failed
// connection is remembered: the host is unreachable for the whole run.
func (s *hostState) master(ctx context.Context, conn Connector) (*muxconn.Master, error) {
	s.connOnce.Do(func() {
		s.m, s.mErr = conn.Get(ctx, s.host.Target)
		if s.mErr == nil && !s.perCommand {
			s.sh = s.m.Shell(muxconn.BinSh)
		}
	})
	return s.m, s.mErr
}

// sudoProbes remembers, by become user, whether sudo asks a password on
// one machine.
type sudoProbes struct {
	mu   sync.Mutex
	asks map[string]bool
}

// needsPassword reports whether sudo asks user's password, running probe
// (which reports whether a command ran through sudo -n failed) once per
// user. It runs what tasks run (sudo … sh -c), so that sudoers rules for
// sh are what decide.
func (p *sudoProbes) needsPassword(user string, probe func(cmd string) (failed bool, ok bool)) bool {
	p.mu.Lock()
	asks, known := p.asks[user]
	p.mu.Unlock()
	if known {
		return asks
	}
	target := user
	if target == "" {
		target = "root"
	}
	asks, ok := probe((&transfer.Become{User: target}).Wrap("true"))
	if !ok {
		return true // unknown (interrupted): send the password
	}
	p.mu.Lock()
	if p.asks == nil {
		p.asks = map[string]bool{}
	}
	p.asks[user] = asks
	p.mu.Unlock()
	return asks
}

func (s *hostState) release() {
	if s.sh != nil {
		s.sh.Close()
	}
	if s.m != nil {
		s.m.Release()
	}
}

func (s *hostState) beginPlay() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.notified)
}

func (s *hostState) gone() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed || s.unreachable
}

// out reports whether the host takes no more tasks for now: failed,
// unreachable, or waiting for its block's rescue.
func (s *hostState) out() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed || s.unreachable || s.rescuing
}

func (s *hostState) isRescuing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rescuing
}

func (s *hostState) setRescuing(v bool) {
	s.mu.Lock()
	s.rescuing = v
	s.mu.Unlock()
}

func (s *hostState) isFailed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *hostState) isUnreachable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unreachable
}

func (s *hostState) setFailed(v bool) {
	s.mu.Lock()
	s.failed = v
	s.mu.Unlock()
}

// setVar stores a set_fact or registered value.
func (s *hostState) setVar(name string, v any) {
	s.mu.Lock()
	s.set[name] = v
	s.mu.Unlock()
}

func (s *hostState) setFacts(f map[string]any) {
	s.mu.Lock()
	s.facts = f
	s.mu.Unlock()
}

// notify marks handlers to run at the next flush.
func (s *hostState) notify(hs []*playbook.Task) {
	s.mu.Lock()
	for _, h := range hs {
		s.notified[h] = true
	}
	s.mu.Unlock()
}

// takeNotified reports whether h was notified, and clears it.
func (s *hostState) takeNotified(h *playbook.Task) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := s.notified[h]
	delete(s.notified, h)
	return ok
}

func (s *hostState) count(f func(*report.RecapRow)) {
	s.mu.Lock()
	f(&s.stats)
	s.counted = true
	s.mu.Unlock()
}

// setLayer reads the host's set_fact and registered variables.
type setLayer struct{ s *hostState }

func (l setLayer) Get(name string) (any, bool) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if v, ok := l.s.rescue[name]; ok {
		return v, true
	}
	v, ok := l.s.set[name]
	return v, ok
}

// factLayer reads gathered facts: ansible_facts, and each fact injected
// as ansible_NAME, as Ansible's inject_facts_as_vars does.
type factLayer struct{ s *hostState }

func (l factLayer) Get(name string) (any, bool) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.facts == nil {
		if name == "ansible_facts" {
			return map[string]any{}, true
		}
		return nil, false
	}
	if name == "ansible_facts" {
		return maps.Clone(l.s.facts), true
	}
	if len(name) > 8 && name[:8] == "ansible_" {
		v, ok := l.s.facts[name[8:]]
		return v, ok
	}
	return nil, false
}

// layers looks a name up in each layer in turn: the first has precedence.
type layers []jinja.Vars

func (l layers) Get(name string) (any, bool) {
	for _, v := range l {
		if v == nil {
			continue
		}
		if x, ok := v.Get(name); ok {
			return x, true
		}
	}
	return nil, false
}

// filesLayer reads the host's vars_files of the current play.
type filesLayer struct{ s *hostState }

func (l filesLayer) Get(name string) (any, bool) {
	l.s.mu.Lock()
	m := l.s.playFiles
	l.s.mu.Unlock()
	return m.Get(name)
}

// mapLayer reads a vars.Map; a nil map has nothing.
type mapLayer struct{ m *vars.Map }

func (l mapLayer) Get(name string) (any, bool) { return l.m.Get(name) }

// plainLayer reads a Go map.
type plainLayer map[string]any

func (l plainLayer) Get(name string) (any, bool) { v, ok := l[name]; return v, ok }

func (r *playRun) extraLayer() jinja.Vars { return mapLayer{r.opts.ExtraVars} }

// varsView is the host's variables as hostvars shows them: extra vars,
// set_fact and register, facts, inventory.
func (s *hostState) varsView(r *playRun) jinja.Vars {
	return layers{r.extraLayer(), setLayer{s}, factLayer{s}, mapLayer{s.host.Vars}}
}

// scope is the variables a task sees on a host, in Ansible's precedence
// order: loop variables, extra vars, set_fact/register, task and block
// vars, the play's vars and vars_files, facts, inventory, magic variables.
func (r *playRun) scope(pc *playCtx, t *playbook.Task, s *hostState, loop map[string]any) jinja.Vars {
	var tv jinja.Vars
	if t != nil && t.Vars != nil {
		tv = mapLayer{t.Vars}
	}
	var lv jinja.Vars
	if loop != nil {
		lv = plainLayer(loop)
	}
	return layers{lv, r.extraLayer(), setLayer{s}, tv, filesLayer{s}, mapLayer{pc.vars}, factLayer{s}, mapLayer{s.host.Vars}, r.magic(pc)}
}

// magic returns the run-wide variables Ansible defines.
func (r *playRun) magic(pc *playCtx) jinja.Vars {
	return magicLayer{r: r, pc: pc}
}

type magicLayer struct {
	r  *playRun
	pc *playCtx
}

func (m magicLayer) Get(name string) (any, bool) {
	switch name {
	case "hostvars":
		return m.r.allHostvars(), true
	case "play_hosts", "ansible_play_batch":
		// The current serial batch's hosts still in the play.
		out := []any{}
		for _, s := range m.r.live(m.pc, m.pc.batch) {
			out = append(out, s.name)
		}
		return out, true
	case "ansible_play_hosts":
		// Every host of the play, across batches, that has not failed
		// (a host waiting for its rescue has not).
		out := []any{}
		for _, name := range m.pc.hosts {
			if s := m.r.known(name); s == nil || !s.gone() {
				out = append(out, name)
			}
		}
		return out, true
	case "ansible_play_hosts_all":
		return toAnyList(m.pc.all), true
	case "ansible_check_mode":
		return m.r.opts.Check, true
	case "ansible_diff_mode":
		return m.r.opts.Diff, true
	case "omit":
		return jinja.Omit, true
	case "playbook_dir":
		return m.pc.book.Dir, true
	case "ansible_play_name":
		return m.r.playName(m.pc.play), true
	case "ansible_run_tags":
		if len(m.r.opts.Tags) == 0 {
			return []any{"all"}, true
		}
		return toAnyList(m.r.opts.Tags), true
	case "ansible_skip_tags":
		return toAnyList(m.r.opts.SkipTags), true
	}
	return nil, false
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// allHostvars builds the hostvars mapping: every inventory host's name to
// a lazy view of its variables, built once per run.
func (r *playRun) allHostvars() map[string]any {
	r.hvOnce.Do(func() {
		r.hv = make(map[string]any, len(r.opts.HostVars))
		for name := range r.opts.HostVars {
			r.hv[name] = hostView{r: r, name: name}
		}
	})
	return r.hv
}

// hostView is one host's entry in hostvars. It looks the host up on every
// read, so that it sees the run's state once the host has joined a play.
type hostView struct {
	r    *playRun
	name string
}

func (h hostView) Get(key string) (any, bool) {
	v, ok := h.r.hostVars(h.name)
	if !ok {
		return nil, false
	}
	return v.Get(key)
}
