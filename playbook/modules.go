package playbook

import (
	"sort"
	"strings"
)

// The modules fleet runs, and for each the arguments it takes. A task's
// arguments are checked against these before anything runs: an argument
// Ansible's module has but fleet's does not is refused as such, any other
// unknown one with a "did you mean". Aliases are folded into the canonical
// name, so that the executor and the modules read one name per argument.

// argKind is what values an argument takes, as Ansible's argument spec
// types do. Only literal values are checked; templated ones are checked
// by the module at run time.
type argKind int

const (
	kindRaw  argKind = iota // anything
	kindStr                 // a scalar (Ansible turns numbers into strings)
	kindBool                // a boolean, or yes/no/true/false/1/0 as a string
	kindInt                 // an integer
	kindList                // a list, or a comma-separated string
)

// argSpec is one argument of a module.
type argSpec struct {
	name     string
	aliases  []string
	kind     argKind
	required bool
	choices  []string // allowed literal values; nil for any
}

// freeForm is how a module reads a string given in place of its
// arguments (`command: echo hi`, `copy: src=a dest=b`).
type freeForm int

const (
	// freeNone: key=value options only; any other word is an error.
	freeNone freeForm = iota
	// freeCommand: the string is a command; only Ansible's few command
	// options (chdir=, creates=, ...) are taken out of it.
	freeCommand
	// freeParams: key=value options are taken out, the rest is the
	// module's _raw_params (meta, include_tasks, import_tasks).
	freeParams
)

// rawParams is the argument name Ansible gives a free-form string.
const rawParams = "_raw_params"

// moduleSpec describes one module's arguments.
type moduleSpec struct {
	name     string
	freeForm freeForm
	args     []argSpec
	// anyArgs: every key is allowed (set_fact's keys are variable names).
	anyArgs       bool
	exclusive     [][]string // at most one of each group
	requiredOneOf [][]string // at least one of each group
	// ansibleOnly are arguments of Ansible's module that fleet's does not
	// take; they get a clearer error than an unknown name.
	ansibleOnly []string
	// rawName says what the free-form argument is, for messages.
	rawName string
}

var fileAttrArgs = []string{"attributes", "attr", "selevel", "serole", "setype", "seuser", "unsafe_writes"}

var moduleSpecs = map[string]*moduleSpec{
	"command": {
		name: "command", freeForm: freeCommand, rawName: "a command",
		args: []argSpec{
			{name: rawParams, kind: kindStr}, {name: "argv", kind: kindList},
			{name: "chdir", kind: kindStr}, {name: "creates", kind: kindStr}, {name: "removes", kind: kindStr},
			{name: "stdin", kind: kindStr}, {name: "stdin_add_newline", kind: kindBool},
			{name: "strip_empty_ends", kind: kindBool},
		},
		exclusive:     [][]string{{rawParams, "argv"}},
		requiredOneOf: [][]string{{rawParams, "argv"}},
		ansibleOnly:   []string{"executable", "warn"},
	},
	"shell": {
		name: "shell", freeForm: freeCommand, rawName: "a command",
		args: []argSpec{
			{name: rawParams, kind: kindStr}, {name: "chdir", kind: kindStr},
			{name: "creates", kind: kindStr}, {name: "removes", kind: kindStr},
			{name: "executable", kind: kindStr}, {name: "stdin", kind: kindStr},
			{name: "stdin_add_newline", kind: kindBool}, {name: "strip_empty_ends", kind: kindBool},
		},
		requiredOneOf: [][]string{{rawParams}},
		ansibleOnly:   []string{"warn", "argv"},
	},
	"script": {
		name: "script", freeForm: freeCommand, rawName: "a script",
		args: []argSpec{
			{name: rawParams, kind: kindStr}, {name: "chdir", kind: kindStr},
			{name: "creates", kind: kindStr}, {name: "removes", kind: kindStr},
			{name: "executable", kind: kindStr},
		},
		requiredOneOf: [][]string{{rawParams}},
		ansibleOnly:   []string{"decrypt"},
	},
	"copy": {
		name: "copy",
		args: []argSpec{
			{name: "src", kind: kindStr}, {name: "content", kind: kindRaw},
			{name: "dest", kind: kindStr, required: true}, {name: "mode", kind: kindRaw},
			{name: "owner", kind: kindStr}, {name: "group", kind: kindStr},
			{name: "backup", kind: kindBool}, {name: "force", kind: kindBool},
			{name: "directory_mode", kind: kindRaw},
		},
		exclusive:     [][]string{{"src", "content"}},
		requiredOneOf: [][]string{{"src", "content"}},
		ansibleOnly: append([]string{"remote_src", "checksum", "decrypt", "follow", "local_follow",
			"validate"}, fileAttrArgs...),
	},
	"template": {
		name: "template",
		args: []argSpec{
			{name: "src", kind: kindStr, required: true}, {name: "dest", kind: kindStr, required: true},
			{name: "mode", kind: kindRaw}, {name: "owner", kind: kindStr}, {name: "group", kind: kindStr},
			{name: "backup", kind: kindBool}, {name: "force", kind: kindBool},
		},
		ansibleOnly: append([]string{"block_end_string", "block_start_string", "comment_end_string",
			"comment_start_string", "follow", "lstrip_blocks", "newline_sequence", "output_encoding",
			"trim_blocks", "validate", "variable_end_string", "variable_start_string"}, fileAttrArgs...),
	},
	"file": {
		name: "file",
		args: []argSpec{
			{name: "path", aliases: []string{"dest", "name"}, kind: kindStr, required: true},
			{name: "state", kind: kindStr, choices: []string{"absent", "directory", "file", "link", "touch"}},
			{name: "mode", kind: kindRaw}, {name: "owner", kind: kindStr}, {name: "group", kind: kindStr},
			{name: "recurse", kind: kindBool}, {name: "src", kind: kindStr}, {name: "force", kind: kindBool},
		},
		ansibleOnly: append([]string{"access_time", "access_time_format", "follow", "modification_time",
			"modification_time_format"}, fileAttrArgs...),
	},
	"fetch": {
		name: "fetch",
		args: []argSpec{
			{name: "src", kind: kindStr, required: true}, {name: "dest", kind: kindStr, required: true},
			{name: "flat", kind: kindBool}, {name: "fail_on_missing", kind: kindBool},
			{name: "validate_checksum", kind: kindBool},
		},
	},
	"lineinfile": {
		name: "lineinfile",
		args: []argSpec{
			{name: "path", aliases: []string{"dest", "destfile", "name"}, kind: kindStr, required: true},
			{name: "line", aliases: []string{"value"}, kind: kindStr},
			{name: "regexp", aliases: []string{"regex"}, kind: kindStr},
			{name: "search_string", kind: kindStr},
			{name: "state", kind: kindStr, choices: []string{"absent", "present"}},
			{name: "insertafter", kind: kindStr}, {name: "insertbefore", kind: kindStr},
			{name: "create", kind: kindBool}, {name: "backup", kind: kindBool},
			{name: "backrefs", kind: kindBool}, {name: "firstmatch", kind: kindBool},
			{name: "mode", kind: kindRaw}, {name: "owner", kind: kindStr}, {name: "group", kind: kindStr},
		},
		exclusive:   [][]string{{"insertbefore", "insertafter"}, {"regexp", "search_string"}, {"backrefs", "search_string"}},
		ansibleOnly: append([]string{"validate", "others"}, fileAttrArgs...),
	},
	"stat": {
		name: "stat",
		args: []argSpec{
			{name: "path", aliases: []string{"dest", "name"}, kind: kindStr, required: true},
			{name: "follow", kind: kindBool}, {name: "get_checksum", kind: kindBool},
			{name: "checksum_algorithm", aliases: []string{"checksum", "checksum_algo"}, kind: kindStr,
				choices: []string{"md5", "sha1", "sha224", "sha256", "sha384", "sha512"}},
		},
		ansibleOnly: []string{"get_attributes", "get_mime", "mime", "mime_type", "mime-type", "attr", "attributes"},
	},
	"wait_for": {
		name: "wait_for",
		args: []argSpec{
			{name: "host", kind: kindStr}, {name: "port", kind: kindInt}, {name: "path", kind: kindStr},
			{name: "timeout", kind: kindInt}, {name: "delay", kind: kindInt}, {name: "sleep", kind: kindInt},
			{name: "connect_timeout", kind: kindInt},
			{name: "state", kind: kindStr, choices: []string{"absent", "drained", "present", "started", "stopped"}},
			{name: "search_regex", kind: kindStr}, {name: "msg", kind: kindStr},
		},
		exclusive:   [][]string{{"path", "port"}},
		ansibleOnly: []string{"active_connection_states", "exclude_hosts"},
	},
	"service": {
		name: "service",
		args: []argSpec{
			{name: "name", kind: kindStr, required: true},
			{name: "state", kind: kindStr, choices: []string{"reloaded", "restarted", "started", "stopped"}},
			{name: "enabled", kind: kindBool},
		},
		requiredOneOf: [][]string{{"state", "enabled"}},
		ansibleOnly:   []string{"arguments", "args", "pattern", "runlevel", "sleep", "use"},
	},
	"systemd": {
		name: "systemd",
		args: []argSpec{
			{name: "name", aliases: []string{"service", "unit"}, kind: kindStr},
			{name: "state", kind: kindStr, choices: []string{"reloaded", "restarted", "started", "stopped"}},
			{name: "enabled", kind: kindBool},
			{name: "daemon_reload", aliases: []string{"daemon-reload"}, kind: kindBool},
		},
		requiredOneOf: [][]string{{"state", "enabled", "daemon_reload"}},
		ansibleOnly:   []string{"daemon_reexec", "daemon-reexec", "force", "masked", "no_block", "scope"},
	},
	"debug": {
		name: "debug",
		args: []argSpec{
			{name: "msg", kind: kindRaw}, {name: "var", kind: kindStr}, {name: "verbosity", kind: kindInt},
		},
		exclusive: [][]string{{"msg", "var"}},
	},
	"set_fact": {name: "set_fact", anyArgs: true},
	"assert": {
		name: "assert",
		args: []argSpec{
			{name: "that", kind: kindRaw, required: true},
			{name: "fail_msg", aliases: []string{"msg"}, kind: kindRaw},
			{name: "success_msg", kind: kindRaw}, {name: "quiet", kind: kindBool},
		},
	},
	"fail": {
		name: "fail",
		args: []argSpec{{name: "msg", kind: kindRaw}},
	},
	"meta": {
		name: "meta", freeForm: freeParams, rawName: "an action (flush_handlers)",
		args:          []argSpec{{name: rawParams, kind: kindStr, choices: []string{"flush_handlers"}}},
		requiredOneOf: [][]string{{rawParams}},
	},
	"include_tasks": {
		name: "include_tasks", freeForm: freeParams, rawName: "a file name",
		args:          []argSpec{{name: rawParams, aliases: []string{"file"}, kind: kindStr}},
		requiredOneOf: [][]string{{rawParams}},
		ansibleOnly:   []string{"apply"},
	},
	"import_tasks": {
		name: "import_tasks", freeForm: freeParams, rawName: "a file name",
		args:          []argSpec{{name: rawParams, aliases: []string{"file"}, kind: kindStr}},
		requiredOneOf: [][]string{{rawParams}},
	},
}

// SupportedModules returns the short names of the modules a playbook may
// use, sorted. Each may also be written as ansible.builtin.NAME or
// ansible.legacy.NAME.
func SupportedModules() []string {
	names := make([]string, 0, len(moduleSpecs))
	for n := range moduleSpecs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// moduleName returns the canonical short name of a module as written
// ("ansible.builtin.copy" is "copy"), and whether fleet supports it.
func moduleName(action string) (string, bool) {
	short := action
	for _, prefix := range []string{"ansible.builtin.", "ansible.legacy."} {
		if rest, ok := strings.CutPrefix(action, prefix); ok {
			short = rest
			break
		}
	}
	_, ok := moduleSpecs[short]
	return short, ok
}

// moduleNamesForSuggestion lists every spelling of every supported module.
func moduleNamesForSuggestion() []string {
	var out []string
	for _, n := range SupportedModules() {
		out = append(out, n, "ansible.builtin."+n)
	}
	return out
}

// argNames lists the arguments a user may write for m (aliases included),
// for "did you mean" and hints.
func (m *moduleSpec) argNames() []string {
	var out []string
	for _, a := range m.args {
		if a.name != rawParams {
			out = append(out, a.name)
			out = append(out, a.aliases...)
		}
	}
	if m.name == "command" || m.name == "shell" || m.name == "script" {
		out = append(out, "cmd")
	}
	return out
}

// lookup returns the spec of the argument written as name (an alias or
// the name itself).
func (m *moduleSpec) lookup(name string) (*argSpec, bool) {
	for i := range m.args {
		a := &m.args[i]
		if a.name == name {
			return a, true
		}
		for _, al := range a.aliases {
			if al == name {
				return a, true
			}
		}
	}
	return nil, false
}
