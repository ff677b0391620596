package modules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func init() { register("script", runScript) }

var scriptOpts = []optSpec{
	{name: "_raw_params", kind: optStr, aliases: []string{"cmd", "free_form"}},
	{name: "creates", kind: optStr},
	{name: "removes", kind: optStr},
	{name: "chdir", kind: optStr},
	{name: "executable", kind: optStr},
	{name: "decrypt", kind: optBool, def: true},
}

// runScript copies a local script to a private directory on the host,
// runs it there with its arguments, and removes it, all in one command
// (its text goes on stdin, so it works through sudo too). As Ansible's
// script action, creates and removes are plain paths tested on the host,
// the arguments reach the remote shell as written, and check mode only
// reports a change when creates or removes allow one.
func runScript(ctx context.Context, c *Call) (Result, error) {
	o, msg := readOpts(c.Module, c.Args, scriptOpts)
	if msg != "" {
		return failedResult(msg, nil), nil
	}
	raw := strings.TrimSpace(o.str("_raw_params"))
	creates, removes := o.str("creates"), o.str("removes")
	if creates != "" || removes != "" {
		var sh shScript
		if creates != "" {
			sh.line("if test -e %s; then echo creates; exit 0; fi", shq(creates))
		}
		if removes != "" {
			sh.line("if ! test -e %s; then echo removes; exit 0; fi", shq(removes))
		}
		out, err := exec(ctx, c, sh.String(), nil)
		if err != nil {
			return Result{}, err
		}
		if m := sudoFailed(c, out); m != "" {
			return failedResult(m, nil), nil
		}
		switch strings.TrimSpace(string(out.Stdout)) {
		case "creates":
			return Result{Skipped: true, Msg: creates + " exists, matching creates option", Fields: map[string]any{}}, nil
		case "removes":
			return Result{Skipped: true, Msg: removes + " does not exist, matching removes option", Fields: map[string]any{}}, nil
		}
	}
	chdir := o.str("chdir")
	if chdir != "" && !strings.HasPrefix(chdir, "/") {
		return failedResult(fmt.Sprintf("chdir %s must be an absolute path for a Unix-aware remote node", chdir), nil), nil
	}
	parts, err := shlexSplit(raw)
	if err != nil {
		return failedResult(fmt.Sprintf("cannot split %q into a script and its arguments as Python's shlex does: %v", raw, err), nil), nil
	}
	if len(parts) == 0 {
		return failedResult("no script given: name a local script file, followed by its arguments", nil), nil
	}
	local, ok := locateScript(parts[0], c.SearchDirs)
	if !ok {
		return failedResult(fmt.Sprintf("Could not find or access '%s' on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option", parts[0]), nil), nil
	}
	text, err := os.ReadFile(local)
	if err != nil {
		return failedResult(fmt.Sprintf("Could not find or access '%s' on the Ansible Controller: %v", parts[0], err), nil), nil
	}
	if c.Check {
		if creates != "" || removes != "" {
			return Result{Changed: true, Fields: map[string]any{}}, nil
		}
		return Result{Skipped: true, Msg: "Check mode is not supported for this task.", Fields: map[string]any{}}, nil
	}

	// The directory's name is chosen here so that the command line can
	// name the script as Ansible's does: by replacing the script's path
	// in the free form, which keeps the arguments' quoting.
	mark := markerToken()
	dir := "/tmp/" + strings.Replace(mark, "fleet-", "fleet-script-", 1)
	remote := dir + "/" + filepath.Base(local)
	target := strings.ReplaceAll(raw, parts[0], remote)
	if exe := o.str("executable"); exe != "" {
		target = exe + " " + target
	}
	if chdir != "" {
		target = "cd " + shq(chdir) + " && " + target
	}
	var sh shScript
	sh.line(`if ! (umask 077 && mkdir %s && cat > %s && chmod 700 %s); then rm -rf %s; printf '%%s\0' %s; exit 0; fi`, shq(dir), shq(remote), shq(remote), shq(dir), mark)
	sh.line("( %s\n) </dev/null", target)
	sh.line("fleet_rc=$?; rm -rf %s; exit $fleet_rc", shq(dir))
	out, err := exec(ctx, c, sh.String(), text)
	if err != nil {
		return Result{}, err
	}
	if m := sudoFailed(c, out); m != "" {
		return failedResult(m, nil), nil
	}
	if _, ok := markerRecords(out.Stdout, mark); ok {
		return failedResult(fmt.Sprintf("could not copy the script to %s on the host: %s", dir, strings.TrimSpace(outputText(out.Stderr))), nil), nil
	}
	stdout, stderr := outputText(out.Stdout), outputText(out.Stderr)
	fields := map[string]any{
		"rc":           int64(out.RC),
		"stdout":       stdout,
		"stderr":       stderr,
		"stdout_lines": pySplitLines(stdout),
		"stderr_lines": pySplitLines(stderr),
	}
	r := Result{Changed: true, Fields: fields}
	if out.RC != 0 {
		r.Failed, r.Msg = true, "non-zero return code"
	}
	return r, nil
}

// locateScript finds a controller-side script: an absolute path as is, a
// relative one in the first of dirs holding it (or the working directory
// when dirs is empty).
func locateScript(name string, dirs []string) (string, bool) {
	if filepath.IsAbs(name) {
		st, err := os.Stat(name)
		return name, err == nil && !st.IsDir()
	}
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	return "", false
}
