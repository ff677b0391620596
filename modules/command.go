package modules

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"
)

func init() {
	register("command", func(ctx context.Context, c *Call) (Result, error) { return runCommandModule(ctx, c, false) })
	register("shell", func(ctx context.Context, c *Call) (Result, error) { return runCommandModule(ctx, c, true) })
}

// commandOpts are the options of the command and shell modules. A free
// form is under _raw_params; Ansible's parser moves cmd there too.
var commandOpts = []optSpec{
	{name: "_raw_params", kind: optStr, aliases: []string{"cmd"}},
	{name: "_uses_shell", kind: optBool},
	{name: "argv", kind: optList},
	{name: "chdir", kind: optPath},
	{name: "executable", kind: optStr},
	{name: "creates", kind: optPath},
	{name: "removes", kind: optPath},
	{name: "stdin", kind: optStr},
	{name: "stdin_add_newline", kind: optBool, def: true},
	{name: "strip_empty_ends", kind: optBool, def: true},
}

// errnoText gives the strerror text of the errno values the scripts
// report, for Python-style "[Errno N] text" messages.
var errnoText = map[string]string{
	"2":  "No such file or directory",
	"13": "Permission denied",
	"20": "Not a directory",
}

// shellErrnoOf is a sh snippet that sets fleet_e to the errno a failed
// access to "$1" most likely met.
const shellErrnoOf = `fleet_errno() { if [ ! -e "$1" ] && [ ! -L "$1" ]; then fleet_e=2; elif [ -d "$1" ] || [ "$2" != dir ]; then fleet_e=13; else fleet_e=20; fi; }
`

// shellFindExec is a sh function that succeeds when "$1" names an
// executable file, looked up in PATH as execvp does.
const shellFindExec = `fleet_find() { case $1 in */*) [ -f "$1" ] && [ -x "$1" ]; return;; esac; fleet_ifs=$IFS; IFS=:; for fleet_d in $PATH; do if [ -f "${fleet_d:-.}/$1" ] && [ -x "${fleet_d:-.}/$1" ]; then IFS=$fleet_ifs; return 0; fi; done; IFS=$fleet_ifs; return 1; }
`

// runCommandModule runs the command module (shell false) or the shell
// module (shell true) as Ansible 2.14's command module does: creates and
// removes are globs checked after chdir, check mode runs nothing, and a
// non-zero exit fails the task.
func runCommandModule(ctx context.Context, c *Call, shell bool) (Result, error) {
	o, msg := readOpts(c.Module, c.Args, commandOpts)
	if msg != "" {
		return failedResult(msg, nil), nil
	}
	if o.boolean("_uses_shell") {
		shell = true
	}
	fields := map[string]any{
		"stdout": "", "stderr": "", "rc": nil, "cmd": nil,
		"start": nil, "end": nil, "delta": nil,
	}
	finish := func(r Result) Result {
		fields["stdout_lines"] = pySplitLines(fields["stdout"].(string))
		fields["stderr_lines"] = pySplitLines(fields["stderr"].(string))
		r.Fields = fields
		return r
	}
	raw, argv := o.str("_raw_params"), o.list("argv")
	if strings.TrimSpace(raw) == "" && len(argv) == 0 {
		fields["rc"] = int64(256)
		return finish(Result{Failed: true, Msg: "no command given"}), nil
	}
	if raw != "" && len(argv) > 0 {
		fields["rc"] = int64(256)
		return finish(Result{Failed: true, Msg: "only command or argv can be given, not both"}), nil
	}

	var sh shScript
	mark := markerToken()
	sh.b.WriteString(shellErrnoOf)
	var words []string // command: argv, expanded remotely as run_command does
	if shell {
		if raw != "" {
			fields["cmd"] = raw
		} else {
			quoted := make([]string, len(argv))
			for i, a := range argv {
				quoted[i] = shellQuoteAlways(a)
			}
			fields["cmd"] = argv
			raw = strings.Join(quoted, " ")
		}
	} else {
		if raw != "" {
			var err error
			if argv, err = shlexSplit(raw); err != nil {
				return finish(Result{Failed: true, Msg: fmt.Sprintf("cannot split the command %q into words as Python's shlex does: %v", raw, err)}), nil
			}
		}
		cmd := make([]any, len(argv))
		for i, a := range argv {
			cmd[i] = a
		}
		fields["cmd"] = cmd
	}
	if dir := o.str("chdir"); dir != "" {
		w := sh.pyWord(dir, false)
		sh.line(`fleet_c=%s; if ! cd -- "$fleet_c" 2>/dev/null; then fleet_errno "$fleet_c" dir; printf '%%s\0chdir=%%s\0path=%%s\0' %s "$fleet_e" "$fleet_c"; exit 0; fi`, w, mark)
	}
	if p := o.str("creates"); p != "" {
		w, g := sh.pyWord(p, false), sh.pyWord(p, true)
		sh.line(`fleet_p=%s; for fleet_f in %s; do if [ -e "$fleet_f" ] || [ -L "$fleet_f" ]; then printf '%%s\0creates=%%s\0' %s "$fleet_p"; exit 0; fi; done`, w, g, mark)
	}
	if p := o.str("removes"); p != "" {
		w, g := sh.pyWord(p, false), sh.pyWord(p, true)
		sh.line(`fleet_p=%s; fleet_ok=; for fleet_f in %s; do if [ -e "$fleet_f" ] || [ -L "$fleet_f" ]; then fleet_ok=1; break; fi; done; [ -n "$fleet_ok" ] || { printf '%%s\0removes=%%s\0' %s "$fleet_p"; exit 0; }`, w, g, mark)
	}
	checkOnly := c.Check
	if checkOnly {
		sh.line(`printf '%%s\0check=\0' %s; exit 0`, mark)
	} else if shell {
		exe := o.str("executable")
		if exe == "" {
			exe = "/bin/sh"
		}
		sh.line("exec %s -c %s", shq(exe), shellQuoteAlways(raw))
	} else {
		ws := make([]string, len(argv))
		for i, a := range argv {
			ws[i] = sh.pyWord(a, false)
		}
		words = ws
		sh.b.WriteString(shellFindExec)
		sh.line(`fleet_a=%s; fleet_find "$fleet_a" || { printf '%%s\0noexec=%%s\0' %s "$fleet_a"; exit 0; }`, words[0], mark)
		sh.line("exec %s", strings.Join(words, " "))
	}

	var stdin []byte
	if s := o.str("stdin"); s != "" && !checkOnly {
		stdin = []byte(s)
		if o.boolean("stdin_add_newline") {
			stdin = append(stdin, '\n')
		}
	}
	if checkOnly && o.str("chdir") == "" && o.str("creates") == "" && o.str("removes") == "" {
		// Nothing to look at on the host: check mode decides alone.
		return finish(commandCheckResult(o, fields)), nil
	}

	start := time.Now()
	out, err := exec(ctx, c, sh.String(), stdin)
	end := time.Now()
	if err != nil {
		return Result{}, err
	}
	if m := sudoFailed(c, out); m != "" {
		return finish(Result{Failed: true, Msg: m}), nil
	}
	if recs, ok := markerRecords(out.Stdout, mark); ok {
		shoulda := "Did"
		if c.Check {
			shoulda = "Would"
		}
		if code, ok := recs.get("chdir"); ok {
			p, _ := recs.get("path")
			return finish(Result{Failed: true, Msg: fmt.Sprintf("Unable to change directory before execution: [Errno %s] %s: b'%s'", code, errnoText[code], p)}), nil
		}
		if p, ok := recs.get("creates"); ok {
			fields["rc"] = int64(0)
			fields["stdout"] = fmt.Sprintf("skipped, since %s exists", p)
			return finish(Result{Msg: fmt.Sprintf("%s not run command since '%s' exists", shoulda, p)}), nil
		}
		if p, ok := recs.get("removes"); ok {
			fields["rc"] = int64(0)
			fields["stdout"] = fmt.Sprintf("skipped, since %s does not exist", p)
			return finish(Result{Msg: fmt.Sprintf("%s not run command since '%s' does not exist", shoulda, p)}), nil
		}
		if _, ok := recs.get("check"); ok {
			return finish(commandCheckResult(o, fields)), nil
		}
		if p, ok := recs.get("noexec"); ok {
			// run_command fails on its own here, with fewer fields and
			// the command as one string.
			quoted := make([]string, len(argv))
			for i, a := range argv {
				quoted[i] = pyShlexQuote(a)
			}
			fields["rc"] = int64(2)
			fields["cmd"] = strings.Join(quoted, " ")
			delete(fields, "start")
			delete(fields, "end")
			delete(fields, "delta")
			return finish(Result{Failed: true, Msg: fmt.Sprintf("[Errno 2] No such file or directory: b'%s'", p)}), nil
		}
	}

	stdout, stderr := outputText(out.Stdout), outputText(out.Stderr)
	if o.boolean("strip_empty_ends") {
		stdout = strings.TrimRight(stdout, "\r\n")
		stderr = strings.TrimRight(stderr, "\r\n")
	}
	fields["stdout"], fields["stderr"] = stdout, stderr
	fields["rc"] = int64(out.RC)
	fields["start"], fields["end"] = pyDatetime(start), pyDatetime(end)
	fields["delta"] = pyTimedelta(end.Sub(start))
	r := Result{Changed: true}
	if out.RC != 0 {
		r.Failed = true
		r.Msg = "non-zero return code"
		if out.Signal != "" {
			r.Msg = fmt.Sprintf("non-zero return code (killed by signal %s)", out.Signal)
		}
	}
	return finish(r), nil
}

// commandCheckResult is the command module's answer in check mode when
// neither creates nor removes decided: it would run, so with creates or
// removes given it reports a change, and without them it skips.
func commandCheckResult(o moduleOpts, fields map[string]any) Result {
	fields["rc"] = int64(0)
	r := Result{Changed: true, Msg: "Command would have run if not in check mode"}
	if o.str("creates") == "" && o.str("removes") == "" {
		r.Changed, r.Skipped = false, true
	}
	return r
}

// markerRecords returns the records a script printed after mark when it
// stopped before running the task's command.
func markerRecords(stdout []byte, mark string) (shellRecords, bool) {
	prefix := append([]byte(mark), 0)
	if !bytes.HasPrefix(stdout, prefix) {
		return nil, false
	}
	return parseShellRecords(stdout[len(prefix):]), true
}
