package playbook

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fleetrun.dev/fleet/vars"
)

var update = flag.Bool("update", false, "rewrite the golden .model files in testdata/good")

// dumpPlaybook prints the model in a stable, readable form for golden
// files: every field that differs from its zero value (and from the task
// defaults LoopVar "item" and Delay 5).
func dumpPlaybook(pb *Playbook) string {
	var b strings.Builder
	for _, pl := range pb.Plays {
		fmt.Fprintf(&b, "PLAY %s %q hosts=%q", rel(pl.Pos), pl.Name, pl.Hosts)
		field(&b, "vars", pl.Vars.Len() > 0, jsonOf(pl.Vars))
		field(&b, "vars_files", pl.VarsFiles != nil, fmt.Sprintf("%q", pl.VarsFiles))
		field(&b, "gather_facts", !pl.GatherFacts, "false")
		field(&b, "become", pl.Become != nil, fmt.Sprint(deref(pl.Become)))
		field(&b, "become_user", pl.BecomeUser != "", pl.BecomeUser)
		field(&b, "become_method", pl.BecomeMethod != "", pl.BecomeMethod)
		field(&b, "serial", pl.Serial != nil, fmt.Sprint(pl.Serial))
		field(&b, "strategy", true, pl.Strategy)
		if pl.MaxFailPercentage != nil {
			field(&b, "max_fail_percentage", true, fmt.Sprint(*pl.MaxFailPercentage))
		}
		field(&b, "any_errors_fatal", pl.AnyErrorsFatal, "true")
		field(&b, "environment", pl.Environment != nil, jsonOf(pl.Environment))
		field(&b, "tags", pl.Tags != nil, fmt.Sprintf("%q", pl.Tags))
		b.WriteString("\n")
		for _, sec := range []struct {
			name  string
			tasks []*Task
		}{{"pre_tasks", pl.PreTasks}, {"tasks", pl.Tasks}, {"post_tasks", pl.PostTasks}, {"handlers", pl.Handlers}} {
			if sec.tasks == nil {
				continue
			}
			fmt.Fprintf(&b, "  %s:\n", sec.name)
			dumpTasks(&b, sec.tasks, "    ")
		}
	}
	return b.String()
}

func dumpTasks(b *strings.Builder, ts []*Task, indent string) {
	for _, t := range ts {
		kind := t.Action
		switch {
		case t.IsParallel():
			kind = "PARALLEL"
		case t.IsBlock():
			kind = "BLOCK"
		}
		fmt.Fprintf(b, "%s- %s %s [%s]", indent, rel(t.Pos), kind, t.DisplayName())
		if t.Module != "" && t.Module != t.Action {
			field(b, "module", true, t.Module)
		}
		field(b, "args", t.Args.Len() > 0, jsonOf(t.Args))
		field(b, "when", t.When != nil, fmt.Sprintf("%q", t.When))
		field(b, "register", t.Register != "", t.Register)
		field(b, "loop", t.Loop != nil, jsonOf(t.Loop))
		field(b, "with_items", t.WithItems, "true")
		field(b, "loop_var", t.LoopVar != "item" && t.LoopVar != "", t.LoopVar)
		field(b, "label", t.LoopLabel != "", t.LoopLabel)
		field(b, "notify", t.Notify != nil, fmt.Sprintf("%q", t.Notify))
		field(b, "listen", t.Listen != nil, fmt.Sprintf("%q", t.Listen))
		field(b, "tags", t.Tags != nil, fmt.Sprintf("%q", t.Tags))
		field(b, "ignore_errors", t.IgnoreErrors, "true")
		field(b, "changed_when", t.ChangedWhen != nil, fmt.Sprintf("%q", t.ChangedWhen))
		field(b, "failed_when", t.FailedWhen != nil, fmt.Sprintf("%q", t.FailedWhen))
		field(b, "timeout", t.Timeout != 0, fmt.Sprint(t.Timeout))
		field(b, "until", t.Until != nil, fmt.Sprintf("%q", t.Until))
		field(b, "retries", t.Retries != 0, fmt.Sprint(t.Retries))
		field(b, "delay", t.Delay != 5 && t.Delay != 0, fmt.Sprint(t.Delay))
		field(b, "run_once", t.RunOnce, "true")
		field(b, "delegate_to", t.DelegateTo != "", t.DelegateTo)
		field(b, "become", t.Become != nil, fmt.Sprint(deref(t.Become)))
		field(b, "become_user", t.BecomeUser != "", t.BecomeUser)
		field(b, "environment", t.Environment != nil, jsonOf(t.Environment))
		field(b, "vars", t.Vars.Len() > 0, jsonOf(t.Vars))
		field(b, "handler", t.Handler, "true")
		field(b, "any_errors_fatal", t.AnyErrorsFatal, "true")
		field(b, "no_log", t.NoLog, "true")
		b.WriteString("\n")
		for _, sub := range []struct {
			name  string
			tasks []*Task
		}{{"block", t.Block}, {"rescue", t.Rescue}, {"always", t.Always}, {"parallel", t.Parallel}, {"included", t.Included}} {
			if sub.tasks == nil {
				continue
			}
			fmt.Fprintf(b, "%s  %s:\n", indent, sub.name)
			dumpTasks(b, sub.tasks, indent+"    ")
		}
	}
}

func field(b *strings.Builder, name string, show bool, value string) {
	if show {
		fmt.Fprintf(b, " %s=%s", name, value)
	}
}

func deref(p *bool) bool { return p != nil && *p }

// rel prints a position relative to testdata, so that golden files do
// not depend on where the tests run.
func rel(p Pos) string {
	f := filepath.ToSlash(p.File)
	if i := strings.Index(f, "testdata/"); i >= 0 {
		f = f[i+len("testdata/"):]
	}
	return Pos{File: f, Line: p.Line}.String()
}

func jsonOf(v any) string {
	if es, ok := v.([]any); ok {
		// Environment lists may hold maps; encode the list as a whole.
		v = append([]any(nil), es...)
	}
	b, err := vars.EncodeJSONCompact(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

// golden compares got with the file, or rewrites it under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("model of %s differs from the golden file (go test -update rewrites it)\n--- got:\n%s", path, diffLines(string(want), got))
	}
}

// diffLines shows the lines that differ, for a readable failure.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}
