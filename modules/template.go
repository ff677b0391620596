package modules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

func init() { register("template", runTemplate) }

// runTemplate renders a template file on the controller with the host's
// variables and copies the result to the host, as copy with content does,
// except that a destination directory gets the template's file name.
func runTemplate(ctx context.Context, c *Call) (Result, error) {
	a := copyArgs{module: "template", m: c.Args}
	if msg := a.unsupported("src", "dest", "mode", "owner", "group", "backup", "force", "follow"); msg != "" {
		return Result{Failed: true, Msg: msg}, nil
	}
	j, err := readCopyArgs(c, a)
	if err != nil {
		return copyResult(Result{}, err)
	}
	srcArg, err := a.str("src")
	if err != nil {
		return copyResult(Result{}, copyFail("%v", err))
	}
	if srcArg == "" || j.dest == "" {
		return Result{Failed: true, Msg: "src and dest are required"}, nil
	}
	found, err := copyFindSource(c, srcArg)
	if err != nil {
		return copyResult(Result{}, copyFail("%v", err))
	}
	info, err := os.Stat(found)
	if err != nil || info.IsDir() {
		return Result{Failed: true, Msg: "Could not find or access '" + srcArg + "': a template must be a file"}, nil
	}
	text, err := os.ReadFile(found)
	if err != nil {
		return Result{Failed: true, Msg: "reading the template " + found + ": " + copyUnwrapPath(err).Error()}, nil
	}
	if c.Template == nil {
		return Result{Failed: true, Msg: "template: no template engine was given for this host"}, nil
	}
	out, err := c.Template(string(text))
	if err != nil {
		return Result{Failed: true, Msg: templateErrorMsg(err)}, nil
	}
	dir, err := copyScratch(c, "template-")
	if err != nil {
		return copyResult(Result{}, err)
	}
	defer os.RemoveAll(dir)
	// Named as the template, for a destination that is a directory.
	file := filepath.Join(dir, filepath.Base(found))
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		return Result{Failed: true, Msg: "writing the rendered template: " + err.Error()}, nil
	}
	perm := info.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	j.local, j.shown, j.name, j.srcPerm = file, found, filepath.Base(found), &perm
	return copyResult(j.run(ctx))
}

// templateErrorMsg words a templating error as Ansible does: an undefined
// variable is an AnsibleUndefinedVariable, anything else an AnsibleError.
func templateErrorMsg(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "Ansible"):
		return msg
	case strings.Contains(strings.ToLower(msg), "undefined"):
		return "AnsibleUndefinedVariable: " + msg
	}
	return "AnsibleError: template error while templating string: " + msg
}
