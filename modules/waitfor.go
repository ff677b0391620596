package modules

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func init() { register("wait_for", runWaitFor) }

var waitForOpts = []optSpec{
	{name: "host", kind: optStr, def: "127.0.0.1"},
	{name: "timeout", kind: optInt, def: int64(300)},
	{name: "connect_timeout", kind: optInt, def: int64(5)},
	{name: "delay", kind: optInt, def: int64(0)},
	{name: "port", kind: optInt},
	{name: "active_connection_states", kind: optList},
	{name: "path", kind: optPath},
	{name: "search_regex", kind: optStr},
	{name: "state", kind: optStr, def: "started", choices: []string{"absent", "drained", "present", "started", "stopped"}},
	{name: "exclude_hosts", kind: optList},
	{name: "sleep", kind: optInt, def: int64(1)},
	{name: "msg", kind: optStr},
}

// waitFor is one wait_for task on one host.
type waitFor struct {
	c        *Call
	host     string
	port     int64
	path     string // as given; the host expands it
	re       *regexp.Regexp
	connect  time.Duration
	expanded string     // path as the host expanded it
	st       remoteStat // the path's lstat when last seen
	exists   bool       // whether it existed then, following links
	groups   []any
	named    map[string]any
}

// runWaitFor waits, as Ansible's wait_for does, for a TCP port on or
// reachable from the host (connections are made from the host, forwarded
// over its SSH connection) or for a file on it to appear, hold a match
// for search_regex, or go away. Each look at a file is one short remote
// command; the waiting between looks happens here, so ctx ends it.
func runWaitFor(ctx context.Context, c *Call) (Result, error) {
	o, msg := readOpts(c.Module, c.Args, waitForOpts)
	if msg != "" {
		return failedResult(msg, nil), nil
	}
	if c.Check {
		return Result{Skipped: true, Msg: "remote module (wait_for) does not support check mode", Fields: map[string]any{}}, nil
	}
	w := &waitFor{c: c, host: o.str("host"), port: o.integer("port"), path: o.str("path"), connect: time.Duration(o.integer("connect_timeout")) * time.Second}
	state := o.str("state")
	if o.has("search_regex") {
		re, err := regexp.Compile("(?m)" + strings.ReplaceAll(o.str("search_regex"), `\Z`, `\z`))
		if err != nil {
			return failedResult("Invalid regular expression: "+err.Error(), nil), nil
		}
		w.re = re
	}
	early := map[string]any{"elapsed": int64(0)}
	switch {
	case w.port != 0 && w.path != "":
		return failedResult("port and path parameter can not both be passed to wait_for", early), nil
	case w.path != "" && state == "stopped":
		return failedResult("state=stopped should only be used for checking a port in the wait_for module", early), nil
	case w.path != "" && state == "drained":
		return failedResult("state=drained should only be used for checking a port in the wait_for module", early), nil
	case o.has("exclude_hosts") && state != "drained":
		return failedResult("exclude_hosts should only be with state=drained", early), nil
	case state == "drained":
		return failedResult("fleet's wait_for does not support state=drained; wait for the port to be stopped instead", early), nil
	}
	custom := o.str("msg")
	failMsg := func(def string) string {
		if custom != "" {
			return custom
		}
		return def
	}
	sleep := time.Duration(o.integer("sleep")) * time.Second
	timeout := time.Duration(o.integer("timeout")) * time.Second

	start := time.Now()
	elapsed := func() int64 { return int64(time.Since(start) / time.Second) }
	if err := waitSleep(ctx, time.Duration(o.integer("delay"))*time.Second); err != nil {
		return Result{}, err
	}
	end := start.Add(timeout)
	if w.port == 0 && w.path == "" {
		if err := waitSleep(ctx, timeout); err != nil {
			return Result{}, err
		}
	} else {
		stopping := state == "absent" || state == "stopped"
		met := false
		for time.Now().Before(end) {
			var err error
			if stopping {
				met, err = w.gone(ctx)
			} else {
				met, err = w.there(ctx, end)
			}
			if err != nil {
				return Result{}, err
			}
			if met {
				break
			}
			if err := waitSleep(ctx, sleep); err != nil {
				return Result{}, err
			}
		}
		if !met {
			fields := map[string]any{"elapsed": elapsed()}
			if w.path != "" && w.expanded == "" {
				// The message names the path as the host expands it.
				if _, _, err := w.look(ctx, false); err != nil {
					return Result{}, err
				}
			}
			addr := fmt.Sprintf("%s:%d", w.host, w.port)
			var m string
			switch {
			case stopping && w.port != 0:
				m = fmt.Sprintf("Timeout when waiting for %s to stop.", addr)
			case stopping:
				m = fmt.Sprintf("Timeout when waiting for %s to be absent.", w.shownPath())
			case w.port != 0 && w.re != nil:
				m = fmt.Sprintf("Timeout when waiting for search string %s in %s", o.str("search_regex"), addr)
			case w.port != 0:
				m = fmt.Sprintf("Timeout when waiting for %s", addr)
			case w.re != nil:
				m = fmt.Sprintf("Timeout when waiting for search string %s in %s", o.str("search_regex"), w.shownPath())
			default:
				m = fmt.Sprintf("Timeout when waiting for file %s", w.shownPath())
			}
			return failedResult(failMsg(m), fields), nil
		}
	}
	fields := map[string]any{
		"state": state, "port": nil, "search_regex": nil, "path": nil,
		"match_groups": []any{}, "match_groupdict": map[string]any{},
		"elapsed": elapsed(),
	}
	if w.port != 0 {
		fields["port"] = w.port
	}
	if o.has("search_regex") {
		fields["search_regex"] = o.str("search_regex")
	}
	if w.groups != nil {
		fields["match_groups"] = w.groups
	}
	if w.named != nil {
		fields["match_groupdict"] = w.named
	}
	if w.path != "" {
		fields["path"] = w.shownPath()
		// add_path_info describes a path that is there, overwriting state.
		if w.exists {
			addPathInfo(fields, w.st)
		}
	}
	return Result{Fields: fields}, nil
}

// shownPath is the path as Ansible shows it: expanded on the host.
func (w *waitFor) shownPath() string {
	if w.expanded != "" {
		return w.expanded
	}
	return w.path
}

// waitSleep sleeps for d, or until ctx ends.
func waitSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// look runs one look at the path: its expanded name, its lstat, whether
// it exists (following links), and its content when read is set.
func (w *waitFor) look(ctx context.Context, read bool) (shellRecords, []byte, error) {
	var sh shScript
	sh.b.WriteString(shellStatFuncs)
	sh.line("p=%s; fleet_rec path \"$p\"; fleet_st st \"$p\"", sh.pyWord(w.path, false))
	sh.line(`if [ -e "$p" ]; then fleet_rec exists 1; fi`)
	if read {
		sh.line(`fleet_rec %s ""; if [ -f "$p" ] && [ -r "$p" ]; then exec cat -- "$p"; fi`, contentMarker)
	} else {
		sh.line(`fleet_rec %s ""`, contentMarker)
	}
	out, err := exec(ctx, w.c, sh.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	recs, content, _ := splitContent(out.Stdout)
	w.expanded, _ = recs.get("path")
	v, _ := recs.get("st")
	w.st, _ = parseRemoteStat(v)
	_, w.exists = recs.get("exists")
	return recs, content, nil
}

// there reports whether the start condition holds: the path exists
// (holding a match), or the port takes a connection (that sends a
// match before end).
func (w *waitFor) there(ctx context.Context, end time.Time) (bool, error) {
	if w.path != "" {
		recs, content, err := w.look(ctx, w.re != nil)
		if err != nil {
			return false, err
		}
		if _, ok := recs.get("exists"); !ok {
			return false, nil
		}
		if w.re == nil {
			return true, nil
		}
		return w.match(content), nil
	}
	conn, err := w.dial(ctx, end)
	if err != nil {
		return false, ctx.Err()
	}
	defer conn.Close()
	if w.re == nil {
		return true, nil
	}
	_ = conn.SetReadDeadline(end)
	var data []byte
	buf := make([]byte, 1024)
	for time.Now().Before(end) {
		n, err := conn.Read(buf)
		data = append(data, buf[:n]...)
		if w.match(data) {
			return true, nil
		}
		if err != nil {
			break
		}
	}
	return false, ctx.Err()
}

// gone reports whether the stop condition holds: the path is absent, or
// the port refuses connections.
func (w *waitFor) gone(ctx context.Context) (bool, error) {
	if w.path != "" {
		recs, _, err := w.look(ctx, false)
		if err != nil {
			return false, err
		}
		_, ok := recs.get("exists")
		return !ok, nil
	}
	conn, err := w.dial(ctx, time.Now().Add(w.connect))
	if err != nil {
		return ctx.Err() == nil, ctx.Err()
	}
	conn.Close()
	return false, nil
}

// dial connects to host:port from the host, giving up after the
// connect timeout or at end, whichever comes first.
func (w *waitFor) dial(ctx context.Context, end time.Time) (net.Conn, error) {
	deadline := time.Now().Add(w.connect)
	if end.Before(deadline) {
		// Python rounds the remaining time up to whole seconds.
		left := time.Until(end)
		deadline = time.Now().Add((left + time.Second - 1) / time.Second * time.Second)
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return w.c.Conn.Dial(dctx, net.JoinHostPort(w.host, strconv.FormatInt(w.port, 10)))
}

// match looks for search_regex in data, keeping its groups for the
// result as Python's groups() and groupdict() give them.
func (w *waitFor) match(data []byte) bool {
	m := w.re.FindSubmatchIndex(data)
	if m == nil {
		return false
	}
	if w.re.NumSubexp() > 0 {
		w.groups = make([]any, w.re.NumSubexp())
		for i := 1; i <= w.re.NumSubexp(); i++ {
			if m[2*i] >= 0 {
				w.groups[i-1] = string(data[m[2*i]:m[2*i+1]])
			}
		}
		names := w.re.SubexpNames()
		for i, n := range names {
			if n != "" {
				if w.named == nil {
					w.named = map[string]any{}
				}
				w.named[n] = w.groups[i-1]
			}
		}
	}
	return true
}
