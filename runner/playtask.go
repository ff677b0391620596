package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"fleetrun.dev/fleet/jinja"
	"fleetrun.dev/fleet/modules"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/playbook"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/transfer"
	"fleetrun.dev/fleet/vars"
)

// outcome is a task's result on one host.
type outcome struct {
	status  report.TaskStatus
	msg     string
	result  map[string]any // what register stores
	diffs   []report.Diff
	ignored bool
	loop    bool
	items   []report.TaskResult // a loop's item results, in order
	start   time.Time
	end     time.Time
	// delegated is delegate_to's host, for the output.
	delegated string
}

// runList runs tasks in order on hosts (in lockstep, task by task, under
// the linear strategy). rescuable says a failure here will be rescued by
// an enclosing block, which Ansible counts as rescued, not failed.
func (r *playRun) runList(ctx context.Context, pc *playCtx, tasks []*playbook.Task, hosts []*hostState, rescuable bool) {
	for _, t := range tasks {
		if ctx.Err() != nil {
			return
		}
		live := r.live(pc, hosts)
		if len(live) == 0 {
			return
		}
		switch {
		case t.IsParallel():
			r.runParallel(ctx, pc, t, live, rescuable)
		case t.IsBlock():
			r.runBlock(ctx, pc, t, live, rescuable)
		default:
			r.runTask(ctx, pc, t, live, rescuable, false)
		}
	}
}

// runBlock runs a block's tasks, then its rescue for the hosts that
// failed in them, then its always for every host that entered it.
func (r *playRun) runBlock(ctx context.Context, pc *playCtx, t *playbook.Task, hosts []*hostState, rescuable bool) {
	r.runList(ctx, pc, t.Block, hosts, rescuable || len(t.Rescue) > 0)
	if len(t.Rescue) > 0 {
		var rescue []*hostState
		for _, s := range hosts {
			if s.isRescuing() && !s.isUnreachable() {
				s.setRescuing(false)
				rescue = append(rescue, s)
			}
		}
		if len(rescue) > 0 && !pc.aborted() {
			r.runList(ctx, pc, t.Rescue, rescue, rescuable)
		}
	}
	if len(t.Always) > 0 && !pc.aborted() {
		var always, wasFailed, wasRescuing []*hostState
		for _, s := range hosts {
			if s.isUnreachable() {
				continue
			}
			if s.isFailed() {
				s.setFailed(false)
				wasFailed = append(wasFailed, s)
			}
			if s.isRescuing() {
				// An enclosing block will rescue it, after this always.
				s.setRescuing(false)
				wasRescuing = append(wasRescuing, s)
			}
			always = append(always, s)
		}
		r.runList(ctx, pc, t.Always, always, rescuable)
		for _, s := range wasFailed {
			s.setFailed(true)
		}
		for _, s := range wasRescuing {
			if !s.isFailed() {
				s.setRescuing(true)
			}
		}
	}
}

// runParallel runs a parallel block: on each host its tasks run at once,
// as concurrent sessions on the host's master (the master's session gate
// caps them at the host's session limit). Each task is reported on its
// own, in the order written, once every host is done.
func (r *playRun) runParallel(ctx context.Context, pc *playCtx, t *playbook.Task, hosts []*hostState, rescuable bool) {
	var tasks []*playbook.Task
	for _, c := range t.Parallel {
		if r.selected(pc, c) && r.reachedStart(c) {
			tasks = append(tasks, c)
		}
	}
	if len(tasks) == 0 {
		return
	}
	results := make([][]*outcome, len(tasks)) // [task][host]
	for i := range results {
		results[i] = make([]*outcome, len(hosts))
	}
	index := map[*hostState]int{}
	for i, s := range hosts {
		index[s] = i
	}
	eachState(ctx, hosts, r.opts.Forks, func(s *hostState) {
		var wg sync.WaitGroup
		for i, c := range tasks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := r.exec(ctx, pc, c, s)
				results[i][index[s]] = o
			}()
		}
		wg.Wait()
	})
	if ctx.Err() != nil {
		return
	}
	label := t.Name
	if label == "" {
		label = "parallel"
	}
	for i, c := range tasks {
		r.header(pc, c, false, label)
		for j, s := range hosts {
			if o := results[i][j]; o != nil {
				r.record(pc, c, s, o, rescuable)
			}
		}
	}
	r.afterTask(pc, t, hosts)
}

// selected reports whether --tags and --skip-tags let t run.
func (r *playRun) selected(pc *playCtx, t *playbook.Task) bool {
	tags := map[string]bool{}
	for _, g := range t.Tags {
		tags[g] = true
	}
	for _, g := range pc.play.Tags {
		tags[g] = true
	}
	return TagsAllow(tags, r.opts.Tags, r.opts.SkipTags)
}

// TagsAllow reports whether a task with tags runs under --tags only and
// --skip-tags skip. It applies Ansible's tag rules: always runs unless skipped by
// name, never runs only when asked for by name, all/tagged/untagged are
// special.
func TagsAllow(tags map[string]bool, only, skip []string) bool {
	if len(only) > 0 {
		ok := tags["always"] && !slices.Contains(skip, "always")
		for _, want := range only {
			switch {
			case want == "all" && !tags["never"]:
				ok = true
			case want == "tagged" && len(tags) > 0 && !tags["never"]:
				ok = true
			case want == "untagged" && len(tags) == 0:
				ok = true
			case tags[want]:
				ok = true
			}
		}
		if !ok {
			return false
		}
	} else if tags["never"] {
		return false
	}
	for _, s := range skip {
		switch {
		case tags[s]:
			return false
		case s == "tagged" && len(tags) > 0:
			return false
		case s == "untagged" && len(tags) == 0:
			return false
		case s == "all" && !tags["always"]:
			return false
		}
	}
	return true
}

// reachedStart reports whether --start-at-task has been reached, at t or
// before.
func (r *playRun) reachedStart(t *playbook.Task) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return true
	}
	if t.Name != "" {
		if ok, _ := filepath.Match(r.opts.StartAtTask, t.Name); ok || t.Name == r.opts.StartAtTask {
			r.started = true
		}
	}
	return r.started
}

// header announces a task, once: under the free strategy many hosts reach
// the same task at different times.
func (r *playRun) header(pc *playCtx, t *playbook.Task, handler bool, parallel string) {
	if pc.free {
		if _, dup := r.headers.LoadOrStore(t, true); dup {
			return
		}
	}
	r.sink.Task(report.TaskStart{Name: r.taskName(pc, t), Module: t.Module, Pos: t.Pos.String(), Handler: handler, Parallel: parallel, Hosts: len(pc.batch)})
}

// taskName renders a task's name with the play's and the extra vars, as
// Ansible shows it; a name that needs host variables is shown as written.
// It is the same for every host, so it is rendered once per play.
func (r *playRun) taskName(pc *playCtx, t *playbook.Task) string {
	name := t.DisplayName()
	if !jinja.IsTemplate(name) {
		return name
	}
	if v, ok := pc.names.Load(t); ok {
		return v.(string)
	}
	if v, err := r.engine.Render(name, layers{r.extraLayer(), mapLayer{t.Vars}, mapLayer{pc.vars}}); err == nil {
		name = jinja.String(v)
	}
	pc.names.Store(t, name)
	return name
}

// runTask runs one task (or handler) on hosts: at once, at most --forks
// hosts at a time.
func (r *playRun) runTask(ctx context.Context, pc *playCtx, t *playbook.Task, hosts []*hostState, rescuable, handler bool) {
	if !handler && (!r.selected(pc, t) || !r.reachedStart(t)) {
		return
	}
	switch t.Module {
	case "meta":
		// Only flush_handlers passes validation.
		r.flushHandlers(ctx, pc, hosts)
		return
	case "include_tasks":
		r.include(ctx, pc, t, hosts, rescuable)
		return
	}
	run := hosts
	if t.RunOnce {
		run = hosts[:1]
	}
	r.header(pc, t, handler, "")
	outs := make([]*outcome, len(run))
	idx := map[*hostState]int{}
	for i, s := range run {
		idx[s] = i
	}
	eachState(ctx, run, r.opts.Forks, func(s *hostState) {
		o := r.exec(ctx, pc, t, s)
		if ctx.Err() != nil {
			return // interrupted: no result, as ansible-playbook shows none
		}
		outs[idx[s]] = o
		if !pc.free {
			// Results are shown as each host finishes.
			r.record(pc, t, s, o, rescuable)
		}
	})
	if pc.free {
		for i, s := range run {
			if outs[i] != nil {
				r.record(pc, t, s, outs[i], rescuable)
			}
		}
	}
	if t.RunOnce && outs[0] != nil {
		// The one result stands for every host: its register and facts
		// are theirs, and its failure fails them all (counted once).
		o := outs[0]
		for _, s := range hosts[1:] {
			if t.Register != "" {
				s.setVar(t.Register, jinja.MarkUnsafe(o.result))
			}
			if t.Module == "set_fact" && o.status == report.TaskOK {
				if f, ok := o.result["ansible_facts"].(map[string]any); ok {
					for k, v := range f {
						s.setVar(k, v)
					}
				}
			}
			if o.status == report.TaskFailed && !o.ignored {
				if rescuable {
					s.setRescuing(true)
				} else {
					s.setFailed(true)
				}
			}
		}
	}
	r.afterTask(pc, t, hosts)
}

// afterTask applies any_errors_fatal and max_fail_percentage once a task
// is done on every host of the batch (linear strategy).
func (r *playRun) afterTask(pc *playCtx, t *playbook.Task, hosts []*hostState) {
	if pc.free {
		return
	}
	if pc.play.AnyErrorsFatal || t.AnyErrorsFatal {
		for _, s := range hosts {
			if s.isFailed() || s.isUnreachable() {
				r.failAll(pc)
				return
			}
		}
	}
	if mfp := pc.play.MaxFailPercentage; mfp != nil && len(pc.batch) > 0 {
		failed := 0
		for _, s := range pc.batch {
			if s.isFailed() {
				failed++
			}
		}
		if float64(failed)/float64(max(pc.batchSize, 1))*100 > *mfp {
			r.failAll(pc)
		}
	}
}

// failAll ends the play for every host of the batch, as Ansible does when
// an error is fatal: the hosts are failed without a failed task counted.
func (r *playRun) failAll(pc *playCtx) {
	for _, s := range pc.batch {
		s.setFailed(true)
	}
	pc.setAbort()
}

// record reports a host's outcome and counts it as Ansible does.
func (r *playRun) record(pc *playCtx, t *playbook.Task, s *hostState, o *outcome, rescuable bool) {
	name := r.taskName(pc, t)
	for _, it := range o.items {
		it.Task = name
		if t.NoLog {
			it.Msg, it.Result, it.Diffs = "", censored(it.Result), nil
		}
		r.sink.Result(it)
	}
	res := report.TaskResult{Host: s.name, Task: name, Status: o.status, Loop: o.loop, Ignored: o.ignored,
		Delegated: o.delegated, Msg: o.msg, Result: o.result, Diffs: o.diffs, Start: o.start, End: o.end}
	if t.NoLog {
		res.Msg, res.Result, res.Diffs = "", censored(o.result), nil
	}
	r.sink.Result(res)
	r.result(pc, s, t, *o, rescuable)
}

// result counts an outcome in the host's recap and acts on it: a failure
// takes the host out of the play, a change notifies handlers.
func (r *playRun) result(pc *playCtx, s *hostState, t *playbook.Task, o outcome, rescuable bool) {
	switch o.status {
	case report.TaskOK:
		s.count(func(c *report.RecapRow) { c.OK++ })
	case report.TaskChanged:
		s.count(func(c *report.RecapRow) { c.OK++; c.Changed++ })
	case report.TaskSkipped:
		s.count(func(c *report.RecapRow) { c.Skipped++ })
	case report.TaskUnreachable:
		s.count(func(c *report.RecapRow) { c.Unreachable++ })
		s.mu.Lock()
		s.unreachable = true
		s.mu.Unlock()
	case report.TaskFailed:
		switch {
		case o.ignored:
			// Ansible counts an ignored failure ok, and changed if it
			// changed something.
			changed, _ := o.result["changed"].(bool)
			s.count(func(c *report.RecapRow) {
				c.OK++
				c.Ignored++
				if changed {
					c.Changed++
				}
			})
		case rescuable:
			s.count(func(c *report.RecapRow) { c.Rescued++ })
			s.mu.Lock()
			s.rescuing = true
			s.rescue = map[string]any{
				"ansible_failed_task":   map[string]any{"name": t.Name, "action": t.Module},
				"ansible_failed_result": o.result,
			}
			s.mu.Unlock()
		default:
			s.count(func(c *report.RecapRow) { c.Failed++ })
			s.setFailed(true)
		}
	}
	if o.status == report.TaskChanged && len(t.Notify) > 0 {
		s.notify(r.handlersFor(pc, t.Notify))
	}
}

// handlersFor returns the play's handlers that names notify, by name or
// by listen topic.
func (r *playRun) handlersFor(pc *playCtx, names []string) []*playbook.Task {
	var out []*playbook.Task
	for _, h := range pc.handlers {
		for _, n := range names {
			if h.Name == n || slices.Contains(h.Listen, n) {
				out = append(out, h)
				break
			}
		}
	}
	return out
}

// flushHandlers runs the notified handlers, in the order they are
// written, on the hosts that notified them.
func (r *playRun) flushHandlers(ctx context.Context, pc *playCtx, hosts []*hostState) {
	for _, h := range pc.handlers {
		if ctx.Err() != nil {
			return
		}
		var on []*hostState
		for _, s := range r.live(pc, hosts) {
			if s.takeNotified(h) {
				on = append(on, s)
			}
		}
		if len(on) > 0 {
			r.runTask(ctx, pc, h, on, false, true)
		}
	}
}

// include runs an include_tasks: its file is read (if its name is
// templated) and its tasks run, on each host for which its when holds.
// Hosts that include the same file with the same item run it together.
func (r *playRun) include(ctx context.Context, pc *playCtx, t *playbook.Task, hosts []*hostState, rescuable bool) {
	type inclusion struct {
		path  string
		tasks []*playbook.Task
		vars  map[string]any
		hosts []*hostState
	}
	var groups []*inclusion
	var mu sync.Mutex
	r.header(pc, t, false, "")
	eachState(ctx, hosts, r.opts.Forks, func(s *hostState) {
		o, incs := r.resolveInclude(pc, t, s)
		if ctx.Err() != nil {
			return
		}
		r.record(pc, t, s, o, rescuable)
		if len(incs) > 1 {
			// Ansible counts each file a host includes.
			s.count(func(c *report.RecapRow) { c.OK += len(incs) - 1 })
		}
		mu.Lock()
		defer mu.Unlock()
	next:
		for _, inc := range incs {
			for _, g := range groups {
				if g.path == inc.path && equalVars(g.vars, inc.vars) {
					g.hosts = append(g.hosts, s)
					continue next
				}
			}
			groups = append(groups, &inclusion{path: inc.path, tasks: inc.tasks, vars: inc.vars, hosts: []*hostState{s}})
		}
	})
	for _, g := range groups {
		// Keep the hosts in the play's order.
		slices.SortFunc(g.hosts, func(a, b *hostState) int { return slices.Index(pc.hosts, a.name) - slices.Index(pc.hosts, b.name) })
		tasks := g.tasks
		if len(g.vars) > 0 {
			tasks = withVars(tasks, g.vars)
		}
		r.runList(ctx, pc, tasks, g.hosts, rescuable)
	}
}

type resolvedInclude struct {
	path  string
	tasks []*playbook.Task
	vars  map[string]any
}

// resolveInclude decides what an include_tasks includes on one host.
func (r *playRun) resolveInclude(pc *playCtx, t *playbook.Task, s *hostState) (*outcome, []resolvedInclude) {
	o := &outcome{start: time.Now(), status: report.TaskOK}
	defer func() { o.end = time.Now() }()
	items := []map[string]any{nil}
	scope := r.scope(pc, t, s, nil)
	if t.Loop != nil {
		list, err := r.loopItems(t, scope)
		if err != nil {
			o.status, o.msg = report.TaskFailed, err.Error()
			o.result = map[string]any{"failed": true, "msg": o.msg}
			return o, nil
		}
		items = items[:0]
		for _, it := range list {
			items = append(items, map[string]any{loopVar(t): it})
		}
	}
	var out []resolvedInclude
	for _, lv := range items {
		sc := r.scope(pc, t, s, lv)
		if len(t.When) > 0 {
			ok, err := r.engine.Cond(t.When, sc)
			if err != nil {
				o.status, o.msg = report.TaskFailed, conditionalError(t.When, err)
				o.result = map[string]any{"failed": true, "msg": o.msg}
				return o, nil
			}
			if !ok {
				continue
			}
		}
		args, err := r.renderArgs(t, sc)
		if err != nil {
			o.status, o.msg = report.TaskFailed, err.Error()
			o.result = map[string]any{"failed": true, "msg": o.msg}
			return o, nil
		}
		name := jinja.String(args["_raw_params"])
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(t.Pos.File), name)
		}
		tasks := t.Included
		if tasks == nil {
			tasks, _, err = t.LoadIncluded(name)
			if err != nil {
				o.status, o.msg = report.TaskFailed, err.Error()
				o.result = map[string]any{"failed": true, "msg": o.msg}
				return o, nil
			}
		}
		iv := map[string]any{}
		maps.Copy(iv, lv)
		out = append(out, resolvedInclude{path: path, tasks: tasks, vars: iv})
	}
	if len(out) == 0 {
		o.status = report.TaskSkipped
		o.result = map[string]any{"changed": false, "skipped": true, "skip_reason": "Conditional result was False"}
		return o, nil
	}
	o.result = map[string]any{"include": out[0].path, "changed": false}
	o.msg = out[0].path
	return o, out
}

func equalVars(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || fmt.Sprintf("%#v", v) != fmt.Sprintf("%#v", w) {
			return false
		}
	}
	return true
}

// withVars returns copies of tasks (and of their blocks' tasks) that also
// see vs, below their own vars: an include's loop item.
func withVars(tasks []*playbook.Task, vs map[string]any) []*playbook.Task {
	out := make([]*playbook.Task, len(tasks))
	for i, t := range tasks {
		c := *t
		m := vars.NewMap()
		for k, v := range vs {
			m.Set(k, v)
		}
		for _, k := range t.Vars.Keys() {
			v, _ := t.Vars.Get(k)
			m.Set(k, v)
		}
		c.Vars = m
		c.Block, c.Rescue, c.Always = withVarsIf(t.Block, vs), withVarsIf(t.Rescue, vs), withVarsIf(t.Always, vs)
		c.Parallel = withVarsIf(t.Parallel, vs)
		out[i] = &c
	}
	return out
}

func withVarsIf(tasks []*playbook.Task, vs map[string]any) []*playbook.Task {
	if tasks == nil {
		return nil
	}
	return withVars(tasks, vs)
}

func loopVar(t *playbook.Task) string {
	if t.LoopVar != "" {
		return t.LoopVar
	}
	return "item"
}

// loopItems renders a task's loop into its list of items.
func (r *playRun) loopItems(t *playbook.Task, scope jinja.Vars) ([]any, error) {
	v, err := r.engine.Render(t.Loop, scope)
	if err != nil {
		return nil, fmt.Errorf("the loop could not be rendered: %v", err)
	}
	switch list := v.(type) {
	case []any:
		if t.WithItems {
			// with_items flattens one level, as Ansible's items lookup.
			var flat []any
			for _, it := range list {
				if sub, ok := it.([]any); ok {
					flat = append(flat, sub...)
				} else {
					flat = append(flat, it)
				}
			}
			return flat, nil
		}
		return list, nil
	case nil:
		return nil, fmt.Errorf("Invalid data passed to 'loop', it requires a list, got this instead: None. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.")
	default:
		if t.WithItems {
			return []any{v}, nil
		}
		return nil, fmt.Errorf("Invalid data passed to 'loop', it requires a list, got this instead: %s. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.", jinja.String(v))
	}
}

// exec runs a task on one host: its loop, when, retries, module, and
// register.
func (r *playRun) exec(ctx context.Context, pc *playCtx, t *playbook.Task, s *hostState) *outcome {
	start := time.Now()
	scope := r.scope(pc, t, s, nil)
	if t.Loop == nil {
		o := r.single(ctx, pc, t, s, scope)
		o.start, o.end = start, time.Now()
		if t.Register != "" && o.status != report.TaskUnreachable {
			s.setVar(t.Register, jinja.MarkUnsafe(o.result))
		}
		return o
	}
	o := &outcome{start: start, loop: true}
	items, err := r.loopItems(t, scope)
	if err != nil && len(t.When) > 0 {
		// As Ansible: a loop that can't be rendered is an error only if
		// the task's when, without an item, doesn't skip it (a when that
		// guards the loop's variable).
		if ok, cerr := r.engine.Cond(t.When, scope); cerr == nil && !ok {
			o.loop = false
			o.status = report.TaskSkipped
			o.result = map[string]any{"changed": false, "skipped": true, "skip_reason": "Conditional result was False"}
			o.end = time.Now()
			if t.Register != "" {
				s.setVar(t.Register, o.result)
			}
			return o
		}
	}
	if err != nil {
		o.status, o.msg = report.TaskFailed, err.Error()
		o.result = map[string]any{"failed": true, "msg": o.msg}
		o.ignored = t.IgnoreErrors
		o.end = time.Now()
		return o
	}
	var results []any
	// A loop with no items, or whose every item was skipped, is skipped.
	changed, failed, skipped := false, false, true
	for _, item := range items {
		if ctx.Err() != nil {
			break
		}
		lv := map[string]any{loopVar(t): item, "ansible_loop_var": loopVar(t)}
		sc := r.scope(pc, t, s, lv)
		io := r.single(ctx, pc, t, s, sc)
		if io.status == report.TaskUnreachable {
			io.start, io.end = start, time.Now()
			return io
		}
		res := maps.Clone(io.result)
		if res == nil {
			res = map[string]any{}
		}
		res[loopVar(t)] = item
		res["ansible_loop_var"] = loopVar(t)
		results = append(results, res)
		label := jinja.String(item)
		if t.LoopLabel != "" {
			if v, err := r.engine.Render(t.LoopLabel, sc); err == nil {
				label = jinja.String(v)
			}
		}
		o.items = append(o.items, report.TaskResult{Host: s.name, Status: io.status, Item: label, HasItem: true,
			Ignored: io.ignored, Delegated: io.delegated, Msg: io.msg, Result: io.result, Diffs: io.diffs, Start: io.start, End: io.end})
		o.diffs = append(o.diffs, io.diffs...)
		switch io.status {
		case report.TaskChanged:
			changed, skipped = true, false
		case report.TaskFailed:
			failed, skipped = true, false
		case report.TaskOK:
			skipped = false
		}
	}
	o.result = map[string]any{"results": results, "changed": changed, "msg": "All items completed", "skipped": skipped}
	switch {
	case failed:
		o.status = report.TaskFailed
		o.result["failed"] = true
		o.result["msg"] = "One or more items failed"
		o.msg = "One or more items failed"
		o.ignored = t.IgnoreErrors
	case skipped:
		o.status = report.TaskSkipped
	case changed:
		o.status = report.TaskChanged
	default:
		o.status = report.TaskOK
	}
	if results == nil {
		o.result["results"] = []any{}
		o.result["skipped_reason"] = "No items in the list"
	}
	if t.Register != "" {
		s.setVar(t.Register, jinja.MarkUnsafe(o.result))
	}
	o.end = time.Now()
	return o
}

// single runs a task (or one loop item) on one host.
func (r *playRun) single(ctx context.Context, pc *playCtx, t *playbook.Task, s *hostState, scope jinja.Vars) *outcome {
	if len(t.When) > 0 {
		ok, err := r.engine.Cond(t.When, scope)
		if err != nil {
			return failed(conditionalError(t.When, err), t)
		}
		if !ok {
			return &outcome{status: report.TaskSkipped, result: map[string]any{
				"changed": false, "skipped": true, "skip_reason": "Conditional result was False",
				"false_condition": t.When[len(t.When)-1],
			}}
		}
	}
	args, err := r.renderArgs(t, scope)
	if err != nil {
		return failed(err.Error(), t)
	}
	// Ansible makes retries+1 attempts; with retries 0 it runs the task
	// once and never looks at until.
	retries := 1
	if len(t.Until) > 0 && t.Retries > 0 {
		retries = t.Retries + 1
	}
	var o *outcome
	for attempt := 1; ; attempt++ {
		o = r.module(ctx, pc, t, s, args, scope)
		if o.status == report.TaskUnreachable || ctx.Err() != nil {
			return o
		}
		r.judge(t, o, scope)
		if len(t.Until) == 0 {
			break
		}
		o.result["attempts"] = attempt
		if retries == 1 {
			break
		}
		ok, err := r.engine.Cond(t.Until, registered(t, o, scope))
		if err != nil {
			o.status, o.msg = report.TaskFailed, conditionalError(t.Until, err)
			o.result["failed"], o.result["msg"] = true, o.msg
			break
		}
		if ok {
			break
		}
		if attempt >= retries {
			// Ansible registers the retries given, not the attempts made.
			o.result["attempts"] = t.Retries
			o.status = report.TaskFailed
			o.result["failed"] = true
			if o.msg == "" {
				o.msg = "Retries exhausted"
			}
			break
		}
		if rs, ok := r.sink.(report.RetrySink); ok {
			rs.Retry(s.name, r.taskName(pc, t), retries-attempt)
		}
		select {
		case <-time.After(time.Duration(t.Delay) * time.Second):
		case <-ctx.Done():
			return o
		}
	}
	if o.status == report.TaskFailed && t.IgnoreErrors {
		o.ignored = true
	}
	return o
}

// registered adds the task's result under its register name, for
// changed_when, failed_when and until, which Ansible lets use it.
func registered(t *playbook.Task, o *outcome, scope jinja.Vars) jinja.Vars {
	if t.Register == "" {
		return scope
	}
	return layers{plainLayer{t.Register: jinja.MarkUnsafe(o.result)}, scope}
}

// judge applies changed_when and failed_when to a module's result.
func (r *playRun) judge(t *playbook.Task, o *outcome, scope jinja.Vars) {
	if o.status == report.TaskSkipped {
		return
	}
	sc := registered(t, o, scope)
	if t.ChangedWhen != nil {
		ok, err := r.engine.Cond(t.ChangedWhen, sc)
		if err != nil {
			o.status, o.msg = report.TaskFailed, conditionalError(t.ChangedWhen, err)
			o.result["failed"], o.result["msg"] = true, o.msg
			return
		}
		o.result["changed"] = ok
		if o.status != report.TaskFailed {
			o.status = report.TaskOK
			if ok {
				o.status = report.TaskChanged
			}
		}
	}
	if t.FailedWhen != nil {
		ok, err := r.engine.Cond(t.FailedWhen, sc)
		if err != nil {
			o.status, o.msg = report.TaskFailed, conditionalError(t.FailedWhen, err)
			o.result["failed"], o.result["msg"] = true, o.msg
			return
		}
		o.result["failed_when_result"] = ok
		if ok {
			o.status = report.TaskFailed
			o.result["failed"] = true
		} else {
			o.result["failed"] = false
			if o.status == report.TaskFailed {
				o.status = report.TaskOK
				if b, _ := o.result["changed"].(bool); b {
					o.status = report.TaskChanged
				}
			}
		}
	}
}

func conditionalError(exprs []string, err error) string {
	return fmt.Sprintf("The conditional check '%s' failed. The error was: %v", strings.Join(exprs, " and "), err)
}

func failed(msg string, t *playbook.Task) *outcome {
	return &outcome{status: report.TaskFailed, msg: msg, result: map[string]any{"failed": true, "msg": msg}, ignored: t.IgnoreErrors}
}

// renderArgs renders a task's arguments for one host, dropping those that
// render to omit.
func (r *playRun) renderArgs(t *playbook.Task, scope jinja.Vars) (map[string]any, error) {
	out := map[string]any{}
	for _, k := range t.Args.Keys() {
		raw, _ := t.Args.Get(k)
		v, err := r.engine.Render(raw, scope)
		if err != nil {
			return nil, fmt.Errorf("The task includes an option with an undefined variable. The error was: %v", err)
		}
		if s, ok := v.(string); ok && s == jinja.Omit {
			continue
		}
		out[k] = v
	}
	return out, nil
}

// module runs a task's module on the host (or on the controller, for the
// control modules and delegate_to: localhost).
func (r *playRun) module(ctx context.Context, pc *playCtx, t *playbook.Task, s *hostState, args map[string]any, scope jinja.Vars) *outcome {
	if t.DelegateTo != "" {
		switch t.Module {
		case "debug", "set_fact", "assert", "fail":
			o := r.control(t, s, args, scope)
			o.delegated = "localhost"
			return o
		}
	}
	if o := r.control(t, s, args, scope); o != nil {
		return o
	}
	return r.remote(ctx, pc, t, s, args, scope)
}

// control runs the modules that act on the controller (debug, set_fact,
// assert, fail); it returns nil for any other module.
func (r *playRun) control(t *playbook.Task, s *hostState, args map[string]any, scope jinja.Vars) *outcome {
	switch t.Module {
	case "debug":
		return r.debug(args, scope)
	case "set_fact":
		for k, v := range args {
			if k == "cacheable" {
				continue
			}
			s.setVar(k, v)
		}
		return &outcome{status: report.TaskOK, result: map[string]any{"changed": false, "ansible_facts": args}}
	case "assert":
		return r.assert(t, args, scope)
	case "fail":
		msg := "Failed as requested from task"
		if m, ok := args["msg"]; ok {
			msg = jinja.String(m)
		}
		return &outcome{status: report.TaskFailed, msg: msg, result: map[string]any{"changed": false, "failed": true, "msg": msg}}
	}
	return nil
}

// remote runs a module on the host, or on the controller for
// delegate_to: localhost.
func (r *playRun) remote(ctx context.Context, pc *playCtx, t *playbook.Task, s *hostState, args map[string]any, scope jinja.Vars) *outcome {
	become, err := r.become(pc, t, s, scope)
	if err != nil {
		return failed(err.Error(), t)
	}
	if become != nil && become.Password != "" {
		// sudo reads the password from the command's stdin only when it
		// asks for one; when it doesn't (NOPASSWD, or root), the password
		// line would reach the command as input. Ask once per host (or
		// the controller) and user.
		if !r.sudoAsks(ctx, t, s, become.User) {
			b := *become
			b.Password = ""
			become = &b
		}
	}
	env, err := r.environment(pc, t, scope)
	if err != nil {
		return failed(err.Error(), t)
	}
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(t.Timeout)*time.Second)
		defer cancel()
	}
	call := &modules.Call{Host: s.name, Module: t.Module, Args: args, Become: become, Env: env,
		Check: r.opts.Check, Diff: r.opts.Diff, LocalDir: r.local,
		SearchDirs: searchDirs(pc.book.Dir, t),
		Template: func(text string) (string, error) {
			return r.engine.RenderText(text, scope)
		},
	}
	var delegated string
	if t.DelegateTo != "" {
		delegated = "localhost"
		lc := &localConn{}
		defer lc.close()
		call.Conn = lc
	} else {
		m, err := s.master(ctx, r.conn)
		if err != nil {
			return unreachable(err)
		}
		tc := &taskConn{m: m, sh: s.sh, host: s.name}
		defer tc.close()
		call.Conn = tc
	}
	res, err := modules.Run(ctx, call)
	var perr *transfer.PushError
	if errors.As(err, &perr) && len(perr.Leftovers) > 0 && t.DelegateTo == "" {
		// A copy cut off mid-file (connection lost, interrupted, timed
		// out) left its private staging files: remove them over a new
		// connection, as fleet push does, so nothing is left behind.
		if cerr := cleanup(ctx, r.conn, s.host, perr.Leftovers); cerr != nil {
			err = fmt.Errorf("%w; %v", err, cerr)
		}
	}
	if err != nil {
		switch {
		case t.Timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded):
			return failed(fmt.Sprintf("The %s action failed to execute in the expected time frame (%d) and was terminated", t.Module, t.Timeout), t)
		case muxconn.IsUnreachable(err):
			return unreachable(err)
		default:
			return failed(err.Error(), t)
		}
	}
	o := &outcome{result: map[string]any{}, delegated: delegated, diffs: res.Diffs, msg: res.Msg}
	maps.Copy(o.result, res.Fields)
	o.result["changed"] = res.Changed
	o.result["failed"] = res.Failed
	if res.Msg != "" {
		o.result["msg"] = res.Msg
	}
	switch {
	case res.Failed:
		o.status = report.TaskFailed
		o.result["failed"] = true
	case res.Skipped:
		o.status = report.TaskSkipped
		o.result["skipped"] = true
	case res.Changed:
		o.status = report.TaskChanged
	default:
		o.status = report.TaskOK
	}
	return o
}

func unreachable(err error) *outcome {
	msg := hostError(err).Error()
	return &outcome{status: report.TaskUnreachable, msg: msg, result: map[string]any{"unreachable": true, "msg": msg, "changed": false}}
}

// searchDirs are where a task's relative src is looked for: beside the
// task's file and the playbook, each with its files/ and templates/.
func searchDirs(bookDir string, t *playbook.Task) []string {
	var dirs []string
	sub := "files"
	if t.Module == "template" {
		sub = "templates"
	}
	for _, d := range []string{filepath.Dir(t.Pos.File), bookDir} {
		if d == "" {
			continue
		}
		for _, c := range []string{filepath.Join(d, sub), d} {
			if !slices.Contains(dirs, c) {
				dirs = append(dirs, c)
			}
		}
	}
	return dirs
}

// environment merges the play's and the task's environment: keywords.
func (r *playRun) environment(pc *playCtx, t *playbook.Task, scope jinja.Vars) (map[string]string, error) {
	var all []any
	if pc.play.Environment != nil {
		all = append(all, pc.play.Environment)
	}
	all = append(all, t.Environment...)
	if len(all) == 0 {
		return nil, nil
	}
	env := map[string]string{}
	for _, e := range all {
		v, err := r.engine.Render(e, scope)
		if err != nil {
			return nil, fmt.Errorf("environment: %v", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("environment must be a mapping of variable names to values, not %s", jinja.String(v))
		}
		for k, x := range m {
			if !validEnvName(k) {
				return nil, fmt.Errorf("environment: %q is not a valid variable name", k)
			}
			env[k] = jinja.String(x)
		}
	}
	return env, nil
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// debug prints a message or a variable, as Ansible's debug action does.
func (r *playRun) debug(args map[string]any, scope jinja.Vars) *outcome {
	if name, ok := args["var"]; ok {
		expr := jinja.String(name)
		v, err := r.engine.Eval(expr, scope)
		var shown any = v
		if err != nil {
			var u *jinja.UndefinedError
			if !errors.As(err, &u) {
				return &outcome{status: report.TaskFailed, msg: err.Error(), result: map[string]any{"failed": true, "msg": err.Error()}}
			}
			shown = "VARIABLE IS NOT DEFINED!"
		}
		return &outcome{status: report.TaskOK, result: map[string]any{expr: shown, "changed": false}}
	}
	msg, ok := args["msg"]
	if !ok {
		msg = "Hello world!"
	}
	return &outcome{status: report.TaskOK, result: map[string]any{"msg": msg, "changed": false}}
}

// assert checks each of that's conditions, as Ansible's assert does.
func (r *playRun) assert(t *playbook.Task, args map[string]any, scope jinja.Vars) *outcome {
	var conds []string
	switch that := args["that"].(type) {
	case string:
		conds = []string{that}
	case []any:
		for _, c := range that {
			conds = append(conds, jinja.String(c))
		}
	case bool:
		conds = []string{map[bool]string{true: "True", false: "False"}[that]}
	default:
		return failed("assert: 'that' must be a condition or a list of conditions", t)
	}
	for _, c := range conds {
		ok, err := r.engine.Cond([]string{c}, scope)
		if err != nil {
			return failed(conditionalError([]string{c}, err), t)
		}
		if !ok {
			msg := "Assertion failed"
			for _, k := range []string{"fail_msg", "msg"} {
				if m, ok := args[k]; ok {
					msg = jinja.String(m)
					break
				}
			}
			return &outcome{status: report.TaskFailed, msg: msg, result: map[string]any{
				"failed": true, "changed": false, "msg": msg, "assertion": c, "evaluated_to": false}}
		}
	}
	msg := "All assertions passed"
	if m, ok := args["success_msg"]; ok {
		msg = jinja.String(m)
	}
	return &outcome{status: report.TaskOK, result: map[string]any{"changed": false, "msg": msg}}
}

// censored is what no_log shows of a result: whether it changed, and
// Ansible's notice in place of everything else.
func censored(res map[string]any) map[string]any {
	out := map[string]any{
		"censored":        "the output has been hidden due to the fact that 'no_log: true' was specified for this result",
		"_ansible_no_log": true,
	}
	if c, ok := res["changed"]; ok {
		out["changed"] = c
	}
	return out
}

// sudoAsks reports whether sudo will ask user's password where t runs: on
// the host, or on the controller for delegate_to: localhost.
func (r *playRun) sudoAsks(ctx context.Context, t *playbook.Task, s *hostState, user string) bool {
	if t.DelegateTo != "" {
		return r.localSudo.needsPassword(user, func(cmd string) (bool, bool) {
			out, err := (&localConn{}).Run(ctx, cmd, nil, nil)
			return err != nil || out.RC != 0, ctx.Err() == nil
		})
	}
	m, err := s.master(ctx, r.conn)
	if err != nil {
		return true
	}
	return s.sudo.needsPassword(user, func(cmd string) (bool, bool) {
		run := m.Run
		if s.sh != nil {
			run = s.sh.Run
		}
		err := run(ctx, muxconn.Command{Cmd: cmd})
		return err != nil, ctx.Err() == nil
	})
}
