package report

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// PlayTextOptions configure NewPlayText.
type PlayTextOptions struct {
	// Verbosity is the number of -v flags. With 1 or more, ok, changed and
	// skipping lines end with the result as JSON ("=> {...}"); with 2 or
	// more each task banner is followed by its "task path:"; with 3 or
	// more results are indented and keep their "invocation" and "diff".
	Verbosity int
	// Color prints in Ansible's colours: ok green, changed yellow, failed
	// red, unreachable bright red, skipping cyan, warnings bright purple,
	// and diff lines green, red and cyan; the recap colours each host by
	// its worst outcome and each count that is not zero.
	Color bool
	// Diff prints the Diffs of changed results as unified diffs, as
	// ansible-playbook --diff does.
	Diff bool
	// Warnings receives the "[WARNING]: " lines, which Ansible writes to
	// standard error. nil means the sink's own writer.
	Warnings io.Writer
}

// Ansible's colour codes (ansible/constants.py COLOR_CODES, with the
// defaults of config/base.yml).
const (
	colorOK          = "0;32" // green
	colorChanged     = "0;33" // yellow
	colorError       = "0;31" // red
	colorUnreachable = "1;31" // bright red
	colorSkip        = "0;36" // cyan
	colorWarn        = "1;35" // bright purple
	colorDebug       = "1;30" // dark gray
	colorDiffAdd     = "0;32"
	colorDiffRemove  = "0;31"
	colorDiffLines   = "0;36"
)

// noLogCensored replaces the result of a task with no_log, as in Ansible.
const noLogCensored = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"

// ansibleColumns is the width Ansible fills with banners and wraps
// warnings to on anything but a wide terminal: banners end at column 80.
const ansibleColumns = 79

// PlayTextSink prints a playbook run as ansible-playbook 2.14 does with
// its default callback, line for line:
//
//	PLAY [web] *********************************************************************
//
//	TASK [copy config] *************************************************************
//	changed: [h1]
//	skipping: [h3]
//	fatal: [h4]: FAILED! => {"changed": false, "msg": "..."}
//	...ignoring
//
//	PLAY RECAP *********************************************************************
//	h1                         : ok=3    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
//
// Results of loop items print one line each ("changed: [h1] => (item=a)",
// "failed: [h1] (item=b) => {...}"); the combined result of a loop prints
// nothing unless every item was skipped ("skipping: [h1]"), it was
// unreachable, or it failed with ignore_errors ("...ignoring"), as in
// Ansible. debug and assert results print their result as indented JSON
// even without -v, as their Ansible actions ask for.
//
// The result JSON is printed as Ansible prints it (Python's json.dumps
// with sorted keys), after the cleaning Ansible's callbacks do: keys
// starting with "_ansible_" and "exception" are dropped, "invocation" and
// "diff" below -vvv, and a debug result with a "msg" keeps only msg,
// warnings and deprecations. A result's "warnings" are printed as
// warnings before its line. The sink never changes a TaskResult.Result.
//
// As in Ansible, a result with "_ansible_no_log": true prints only
// {"censored": "the output has been hidden ..."} and its item label as
// "(censored due to no_log)".
//
// A result nil in a TaskResult is built from its Status and Msg:
// {"changed": false, "msg": Msg} for a failure, with "unreachable": true
// for an unreachable host.
//
// Each event is written with a single Write, so lines of results that
// arrive concurrently never mix. Results of a task other than the one
// whose banner was printed last (as with the free strategy or a parallel
// block) repeat their task's banner first, as Ansible's free strategy
// does. Tasks of a parallel block print their banner with their first
// line rather than at their start. Tasks of the meta module print no
// banner, as in Ansible.
type PlayTextSink struct {
	w, warnW  io.Writer
	sameWarnW bool // warnW is w
	opt       PlayTextOptions

	mu         sync.Mutex
	tasks      map[string]TaskStart // the tasks of the current play by name, for banners and modules
	lastBanner string               // the task whose banner was printed last, "" if none in this play
	warned     map[string]bool      // warnings printed, each only once as Ansible does
	err        error
}

// NewPlayText returns a PlayTextSink writing to w.
func NewPlayText(w io.Writer, opt PlayTextOptions) *PlayTextSink {
	s := &PlayTextSink{w: w, warnW: opt.Warnings, opt: opt, tasks: map[string]TaskStart{}, warned: map[string]bool{}}
	if s.warnW == nil {
		s.warnW, s.sameWarnW = w, true
	}
	return s
}

// Play prints the play's banner, "PLAY [name]" (just "PLAY" without a
// name), and "skipping: no hosts matched" when it has no hosts.
func (s *PlayTextSink) Play(p PlayStart) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tasks)
	s.lastBanner = ""
	title := "PLAY"
	if name := strings.TrimSpace(p.Name); name != "" {
		title = "PLAY [" + name + "]"
	}
	b := s.appendBanner(nil, title)
	if len(p.Hosts) == 0 {
		b = s.appendLine(b, "skipping: no hosts matched", colorSkip)
	}
	s.write(b)
}

// Task prints the task's banner, "TASK [name]" or for a handler
// "RUNNING HANDLER [name]", except for tasks of a parallel block, whose
// banner waits for their first line, and meta tasks.
func (s *PlayTextSink) Task(t TaskStart) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tasks[t.Name] = t
	if t.Parallel != "" || moduleName(t.Module) == "meta" {
		return
	}
	s.write(s.appendTaskBanner(nil, t))
}

// Result prints the lines of one result (see PlayTextSink), preceded by
// its task's banner if another task printed since, by its warnings, and
// with PlayTextOptions.Diff by its diffs.
func (s *PlayTextSink) Result(r TaskResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[r.Task]
	if !ok { // a result without its TaskStart: print a banner for it once
		t = TaskStart{Name: r.Task}
		s.tasks[r.Task] = t
	}
	res, warnings := s.cleanResult(r, t)
	body := s.appendResult(nil, r, t, res)
	var b []byte
	if (len(body) > 0 || len(warnings) > 0) && (s.lastBanner != r.Task || !ok) {
		b = s.appendTaskBanner(b, t)
	}
	// As Ansible prints them: banner, warnings, then the result; all in
	// one Write when warnings share the main output.
	for _, w := range warnings {
		if text := s.warningText(w); s.sameWarnW {
			b = append(b, text...)
		} else {
			s.writeTo(s.warnW, text)
		}
	}
	s.write(append(b, body...))
}

// Warn prints "[WARNING]: msg", wrapped at 79 columns as Ansible wraps it,
// to PlayTextOptions.Warnings. A warning already printed is not repeated.
func (s *PlayTextSink) Warn(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warnLocked(msg)
}

// Retry prints ansible-playbook's "FAILED - RETRYING: [h]: task (N retries
// left)." line.
func (s *PlayTextSink) Retry(host, task string, left int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.write(s.appendLine(nil, fmt.Sprintf("FAILED - RETRYING: [%s]: %s (%d retries left).", host, task, left), colorChanged))
}

// Recap prints the PLAY RECAP: one line per host, sorted by name as
// Ansible sorts them, and a blank line.
func (s *PlayTextSink) Recap(rows []RecapRow) {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b RecapRow) int { return strings.Compare(a.Host, b.Host) })
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.appendBanner(nil, "PLAY RECAP")
	for _, r := range rows {
		b = s.appendRecapHost(b, r)
		b = append(b, " : "...)
		for i, c := range []struct {
			name  string
			n     int
			color string
		}{
			{"ok", r.OK, colorOK},
			{"changed", r.Changed, colorChanged},
			{"unreachable", r.Unreachable, colorUnreachable},
			{"failed", r.Failed, colorError},
			{"skipped", r.Skipped, colorSkip},
			{"rescued", r.Rescued, colorOK},
			{"ignored", r.Ignored, colorWarn},
		} {
			if i > 0 {
				b = append(b, ' ')
			}
			// Python's "%s=%-4s": the count left-justified in four columns.
			field := c.name + "=" + padRight(strconv.Itoa(c.n), 4)
			if c.n != 0 {
				field = s.paint(field, c.color)
			}
			b = append(b, field...)
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	s.write(b)
}

// Close returns the first error met writing the output. It closes no
// writer.
func (s *PlayTextSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// appendRecapHost appends the host's name padded to 26 columns, coloured
// red if it failed or was unreachable, else yellow if something changed,
// else green.
func (s *PlayTextSink) appendRecapHost(b []byte, r RecapRow) []byte {
	name := padRight(r.Host, 26)
	if !s.opt.Color {
		return append(b, name...)
	}
	color := colorOK
	switch {
	case r.Failed != 0 || r.Unreachable != 0:
		color = colorError
	case r.Changed != 0:
		color = colorChanged
	}
	b = append(b, s.paint(r.Host, color)...)
	return append(b, name[len(r.Host):]...)
}

// cleanResult returns the result to print for r and the warnings it
// carries, as Ansible's default callback prepares them: built from Status
// and Msg when r.Result is nil, told to print verbosely for debug and
// assert, cleaned of debug's noise, without "warnings", "exception", and
// below -vvv "invocation" and "diff". r.Result itself is not changed.
func (s *PlayTextSink) cleanResult(r TaskResult, t TaskStart) (map[string]any, []string) {
	res := map[string]any{}
	switch {
	case r.Result != nil:
		for k, v := range r.Result {
			res[k] = v
		}
	case r.Status == TaskFailed:
		res["changed"], res["msg"] = false, r.Msg
	case r.Status == TaskUnreachable:
		res["changed"], res["msg"], res["unreachable"] = false, r.Msg, true
	default:
		res["changed"] = r.Status == TaskChanged
		if r.Msg != "" {
			res["msg"] = r.Msg
		}
	}
	// What Ansible's TaskResult.clean_copy does before any callback sees
	// a result: the status is in the event, so "failed" and "skipped" go,
	// and a no_log result keeps only a note and its counters.
	delete(res, "failed")
	delete(res, "skipped")
	if res["_ansible_no_log"] == true {
		censored := map[string]any{"censored": noLogCensored}
		for _, k := range []string{"attempts", "changed", "retries"} {
			if v, ok := res[k]; ok {
				censored[k] = v
			}
		}
		res = censored
	}
	module := moduleName(t.Module)
	if r.Status != TaskSkipped && r.Status != TaskUnreachable {
		// Ansible's debug and assert actions set this flag (assert not
		// with quiet: a result may say false); gathering facts sets the
		// override so that even -v does not print the facts.
		if _, set := res["_ansible_verbose_always"]; !set && (module == "debug" || module == "assert") {
			res["_ansible_verbose_always"] = true
		}
		if module == "gather_facts" || module == "setup" {
			res["_ansible_verbose_override"] = true
		}
	}
	if module == "debug" {
		if _, hasMsg := res["msg"]; hasMsg {
			for k := range res {
				switch k {
				case "msg", "exception", "warnings", "deprecations":
				default:
					if !strings.HasPrefix(k, "_") {
						delete(res, k)
					}
				}
			}
		} else {
			for _, k := range []string{"changed", "failed", "skipped", "invocation", "skip_reason"} {
				delete(res, k)
			}
		}
	}
	var warnings []string
	if r.Status != TaskSkipped && r.Status != TaskUnreachable && (!r.HasItem || r.Status == TaskFailed) {
		warnings = stringList(res["warnings"])
		delete(res, "warnings")
		delete(res, "deprecations")
	}
	delete(res, "exception")
	if s.opt.Verbosity < 3 {
		delete(res, "invocation")
		delete(res, "diff")
	}
	return res, warnings
}

// stringList returns the strings of a list of warnings.
func stringList(v any) []string {
	switch v := v.(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if str, ok := x.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

// verbose says whether a result's line ends with its JSON (Ansible's
// _run_is_verbose).
func (s *PlayTextSink) verbose(res map[string]any) bool {
	return (s.opt.Verbosity > 0 || res["_ansible_verbose_always"] == true) &&
		res["_ansible_verbose_override"] != true
}

// dump returns res as JSON the way Ansible's _dump_results prints it:
// indented by 4 for verbose-always results and at -vvv, else on one line.
func (s *PlayTextSink) dump(res map[string]any) string {
	indent := 0
	if res["_ansible_verbose_always"] == true || s.opt.Verbosity > 2 {
		indent = 4
	}
	return string(appendPyJSON(nil, res, indent, 0))
}

// appendResult appends the lines printed for r (see PlayTextSink): its
// diffs, its status line and "...ignoring". It appends nothing for a
// result Ansible does not print.
func (s *PlayTextSink) appendResult(b []byte, r TaskResult, t TaskStart, res map[string]any) []byte {
	label := r.Host
	if r.Delegated != "" && r.Delegated != r.Host {
		label += " -> " + r.Delegated
	}
	if s.opt.Diff && len(r.Diffs) > 0 && (r.Status == TaskChanged || res["changed"] == true) {
		b = s.appendDiffs(b, r.Diffs)
	}
	switch {
	case r.HasItem:
		item := r.Item
		if r.Result["_ansible_no_log"] == true {
			item = "(censored due to no_log)"
		}
		switch r.Status {
		case TaskOK, TaskChanged:
			word, color := "ok", colorOK
			if r.Status == TaskChanged {
				word, color = "changed", colorChanged
			}
			line := word + ": [" + label + "] => (item=" + item + ")"
			if s.verbose(res) {
				line += " => " + s.dump(res)
			}
			b = s.appendLine(b, line, color)
		case TaskSkipped:
			// Ansible's own spelling, trailing space included, and without
			// the delegation.
			line := "skipping: [" + r.Host + "] => (item=" + item + ") "
			if s.verbose(res) {
				line += " => " + s.dump(res)
			}
			b = s.appendLine(b, line, colorSkip)
		default: // failed, or unreachable, which Ansible prints the same for an item
			b = s.appendLine(b, "failed: ["+label+"] (item="+item+") => "+s.dump(res), colorError)
		}
		return b
	case r.Loop:
		switch r.Status {
		case TaskSkipped:
			delete(res, "results") // the items said it already
			b = s.appendSkipping(b, r, res)
		case TaskUnreachable:
			b = s.appendUnreachable(b, r, label, res)
		case TaskFailed:
			if r.Ignored {
				b = s.appendLine(b, "...ignoring", colorSkip)
			}
		}
		return b
	}
	if moduleName(t.Module) == "include_tasks" && (r.Status == TaskOK || r.Status == TaskChanged) {
		// Ansible lists the hosts of each included file on one line
		// after the task; here each host says it on its own.
		if r.Msg != "" {
			b = s.appendLine(b, "included: "+r.Msg+" for "+r.Host, colorSkip)
		}
		return b
	}
	switch r.Status {
	case TaskOK, TaskChanged:
		line, color := "ok: ["+label+"]", colorOK
		if r.Status == TaskChanged {
			line, color = "changed: ["+label+"]", colorChanged
		}
		if s.verbose(res) {
			line += " => " + s.dump(res)
		}
		b = s.appendLine(b, line, color)
	case TaskSkipped:
		b = s.appendSkipping(b, r, res)
	case TaskFailed:
		b = s.appendLine(b, "fatal: ["+label+"]: FAILED! => "+s.dump(res), colorError)
		if r.Ignored {
			b = s.appendLine(b, "...ignoring", colorSkip)
		}
	case TaskUnreachable:
		b = s.appendUnreachable(b, r, label, res)
	}
	return b
}

func (s *PlayTextSink) appendSkipping(b []byte, r TaskResult, res map[string]any) []byte {
	line := "skipping: [" + r.Host + "]"
	if s.verbose(res) {
		line += " => " + s.dump(res)
	}
	return s.appendLine(b, line, colorSkip)
}

func (s *PlayTextSink) appendUnreachable(b []byte, r TaskResult, label string, res map[string]any) []byte {
	b = s.appendLine(b, "fatal: ["+label+"]: UNREACHABLE! => "+s.dump(res), colorUnreachable)
	if r.Ignored { // ignore_unreachable
		b = s.appendLine(b, "...ignoring", colorSkip)
	}
	return b
}

// appendDiffs appends each diff as Ansible's --diff prints it: a unified
// diff headed "--- before: PATH" and "+++ after: PATH" (just "before" and
// "after" without a header), then a blank line.
func (s *PlayTextSink) appendDiffs(b []byte, diffs []Diff) []byte {
	for _, d := range diffs {
		from, to := "before", "after"
		if d.BeforeHeader != "" {
			from += ": " + d.BeforeHeader
		}
		if d.AfterHeader != "" {
			to += ": " + d.AfterHeader
		}
		text := UnifiedDiff(from, to, d.Before, d.After, DiffContext)
		if text == "" {
			continue
		}
		if !s.opt.Color {
			b = append(b, text...)
			b = append(b, '\n')
			continue
		}
		// Ansible colours by the first character of each line of
		// difflib's output, and a "\ No newline" mark belongs to the line
		// before it.
		lines := strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n")
		for i := 0; i < len(lines); i++ {
			line := strings.TrimSuffix(lines[i], "\n")
			if i+1 < len(lines) && strings.TrimSuffix(lines[i+1], "\n") == strings.TrimSuffix(noNewlineMark, "\n") {
				line += "\n" + strings.TrimSuffix(lines[i+1], "\n")
				i++
			}
			switch {
			case strings.HasPrefix(line, "+"):
				line = s.paint(line, colorDiffAdd)
			case strings.HasPrefix(line, "-"):
				line = s.paint(line, colorDiffRemove)
			case strings.HasPrefix(line, "@@"):
				line = s.paint(line, colorDiffLines)
			}
			b = append(b, line...)
			b = append(b, '\n')
		}
		b = append(b, '\n')
	}
	return b
}

// appendTaskBanner appends t's banner, and at -vv its task path, and
// notes it as the last banner printed.
func (s *PlayTextSink) appendTaskBanner(b []byte, t TaskStart) []byte {
	prefix := "TASK"
	if t.Handler {
		prefix = "RUNNING HANDLER"
	}
	b = s.appendBanner(b, prefix+" ["+strings.TrimSpace(t.Name)+"]")
	if s.opt.Verbosity >= 2 && t.Pos != "" {
		b = s.appendLine(b, "task path: "+t.Pos, colorDebug)
	}
	s.lastBanner = t.Name
	return b
}

// appendBanner appends a blank line, then title followed by stars up to
// column 80 (at least three), as Ansible's Display.banner does.
func (s *PlayTextSink) appendBanner(b []byte, title string) []byte {
	stars := max(ansibleColumns-utf8.RuneCountInString(title), 3)
	b = append(b, '\n')
	b = append(b, title...)
	b = append(b, ' ')
	b = append(b, strings.Repeat("*", stars)...)
	return append(b, '\n')
}

// appendLine appends text and a newline, in color if colours are on.
func (s *PlayTextSink) appendLine(b []byte, text, color string) []byte {
	b = append(b, s.paint(text, color)...)
	return append(b, '\n')
}

// paint colours text as Ansible's stringc does: each line on its own, so
// that a line never starts uncoloured. Without colours it returns text.
func (s *PlayTextSink) paint(text, color string) string {
	if !s.opt.Color {
		return text
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = "\x1b[" + color + "m" + l + ansiReset
	}
	return strings.Join(lines, "\n")
}

// warnLocked prints a warning unless it was printed before. s.mu must be
// held.
func (s *PlayTextSink) warnLocked(msg string) {
	s.writeTo(s.warnW, s.warningText(msg))
}

// warningText returns the lines that print a warning, or nil if it was
// printed before. s.mu must be held.
func (s *PlayTextSink) warningText(msg string) []byte {
	text := strings.Join(wrapText("[WARNING]: "+msg, ansibleColumns), "\n")
	if s.warned[text] {
		return nil
	}
	s.warned[text] = true
	return []byte(s.paint(text, colorWarn) + "\n")
}

// write writes b to the main output with a single Write. s.mu must be
// held.
func (s *PlayTextSink) write(b []byte) { s.writeTo(s.w, b) }

func (s *PlayTextSink) writeTo(w io.Writer, b []byte) {
	if s.err != nil || len(b) == 0 {
		return
	}
	if _, err := w.Write(b); err != nil {
		s.err = writeError("play text", err)
	}
}

// moduleName returns a module's short name: "ansible.builtin.debug" and
// "ansible.legacy.debug" are "debug".
func moduleName(m string) string {
	m = strings.TrimPrefix(m, "ansible.builtin.")
	return strings.TrimPrefix(m, "ansible.legacy.")
}

// padRight pads s with spaces to n characters, as Python's "%-Ns" does.
func padRight(s string, n int) string {
	if pad := n - utf8.RuneCountInString(s); pad > 0 {
		return s + strings.Repeat(" ", pad)
	}
	return s
}

// wrapText splits text into lines of at most width characters as Python's
// textwrap.wrap does with its defaults, which Ansible uses for warnings:
// whitespace becomes spaces and is dropped at line ends, lines break
// between words or after a hyphen inside a word, and a word longer than a
// line is cut.
func wrapText(text string, width int) []string {
	text = expandTabs(text)
	text = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\v' || r == '\f' {
			return ' '
		}
		return r
	}, text)
	chunks := wrapChunks(text)
	var lines []string
	for len(chunks) > 0 {
		if len(lines) > 0 && isSpaceChunk(chunks[0]) {
			chunks = chunks[1:]
		}
		var line []string
		n := 0
		for len(chunks) > 0 && n+len(chunks[0]) <= width {
			line = append(line, string(chunks[0]))
			n += len(chunks[0])
			chunks = chunks[1:]
		}
		if len(chunks) > 0 && len(chunks[0]) > width {
			// A word longer than a whole line: cut it, after a hyphen if
			// one fits.
			room := max(width-n, 1)
			c := chunks[0]
			cut := room
			if h := lastIndexRune(c[:room], '-'); h > 0 && slices.ContainsFunc(c[:h], func(r rune) bool { return r != '-' }) {
				cut = h + 1
			}
			line = append(line, string(c[:cut]))
			chunks[0] = c[cut:]
		}
		if k := len(line); k > 0 && strings.TrimSpace(line[k-1]) == "" {
			line = line[:k-1]
		}
		if len(line) > 0 {
			lines = append(lines, strings.Join(line, ""))
		}
	}
	return lines
}

// wrapChunks splits text into runs of spaces and words, and words after
// each hyphen that joins two letters ("host-" "name"), as textwrap's
// wordsep_re does.
func wrapChunks(text string) [][]rune {
	var chunks [][]rune
	rs := []rune(text)
	isLetter := func(i int) bool {
		return i >= 0 && i < len(rs) && (unicode.IsLetter(rs[i]) || rs[i] == '_')
	}
	start := 0
	for i := 0; i < len(rs); i++ {
		if i > start && (rs[i] == ' ') != (rs[start] == ' ') {
			chunks = append(chunks, rs[start:i])
			start = i
		}
		// After "ab-" or "a-b-", before a letter (optionally "-" then a
		// letter), a word may break.
		if rs[i] == '-' && rs[start] != ' ' &&
			((isLetter(i-1) && isLetter(i-2)) || (isLetter(i-1) && i >= 3 && rs[i-2] == '-' && isLetter(i-3))) &&
			(isLetter(i+1) && (isLetter(i+2) || (i+3 < len(rs) && rs[i+2] == '-' && isLetter(i+3)))) {
			chunks = append(chunks, rs[start:i+1])
			start = i + 1
		}
	}
	if start < len(rs) {
		chunks = append(chunks, rs[start:])
	}
	return chunks
}

// expandTabs replaces each tab by the spaces up to the next multiple of
// eight columns, counted from the last newline, as Python's
// str.expandtabs does.
func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		switch r {
		case '\t':
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case '\n', '\r':
			b.WriteRune(r)
			col = 0
		default:
			b.WriteRune(r)
			col++
		}
	}
	return b.String()
}

func isSpaceChunk(c []rune) bool { return len(c) > 0 && c[0] == ' ' }

func lastIndexRune(rs []rune, r rune) int {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] == r {
			return i
		}
	}
	return -1
}
