package target

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// sshGCase is an ssh_config, with the files it includes, resolved for
// some hosts. want holds values as `ssh -G` prints them ("port": "1111");
// in the config and in want, $USER stands for the local user name and
// $HOME for the temporary home directory the case runs in.
type sshGCase struct {
	name string
	// files are written under $HOME; ".ssh/config" is the file read (as
	// ssh -F reads it).
	files map[string]string
	ov    Overrides // -l becomes ssh's -l
	want  map[string]map[string]string
	// exec lets Match exec run commands with /bin/sh, as ssh does.
	exec bool
}

// runSSHGCases resolves each case with fleet and checks want; when the ssh
// client is installed, it also checks that ssh -G, run on the same files,
// agrees with fleet on every key in want.
func runSSHGCases(t *testing.T, cases []sshGCase) {
	t.Helper()
	u, lhost := localIdentity(t)
	sshBin, sshErr := exec.LookPath("ssh")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			subst := strings.NewReplacer("$USER", u.Username, "$HOME", home)
			for name, text := range c.files {
				p := filepath.Join(home, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(subst.Replace(text)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := filepath.Join(home, ".ssh", "config")
			opts := Options{ConfigFile: cfg, Home: home, LocalUser: u.Username, LocalHost: lhost,
				Getenv: func(string) string { return "" }, Overrides: c.ov}
			if c.exec {
				opts.MatchExec = ShellMatchExec(func(string) string { return "" })
			}
			r, warns, err := NewResolver(opts)
			if err != nil || len(warns) > 0 {
				t.Fatalf("NewResolver: %v %v", err, warns)
			}
			aliases := make([]string, 0, len(c.want))
			for alias := range c.want {
				aliases = append(aliases, alias)
			}
			slices.Sort(aliases)
			for _, alias := range aliases {
				ours := fleetG(t, r, alias)
				for key, want := range c.want[alias] {
					if got := strings.Join(ours[key], "\n"); got != subst.Replace(want) {
						t.Errorf("%s: %s = %q, want %q", alias, key, got, subst.Replace(want))
					}
				}
				if sshErr != nil {
					continue
				}
				theirs := runSSHG(t, sshBin, cfg, alias, home, sshArgs(c.ov)...)
				for key := range c.want[alias] {
					if o, th := ours[key], theirs[key]; !slices.Equal(o, th) {
						t.Errorf("%s: %s: fleet %q, ssh -G %q", alias, key, o, th)
					}
				}
			}
			if sshErr != nil {
				t.Skip("ssh client not installed: checked against the expected values only, NOT against ssh -G")
			}
		})
	}
}

// sshArgs are the ssh options matching ov.
func sshArgs(ov Overrides) []string {
	var args []string
	if ov.User != "" {
		args = append(args, "-l", ov.User)
	}
	return args
}

// TestMatchCriteria checks Match as OpenSSH evaluates it: host against
// the HostName given so far, originalhost against the alias, pattern
// lists with negation, every criterion of a line required, user and
// localuser, all, canonical and final, and Match in included files.
func TestMatchCriteria(t *testing.T) {
	// Before OpenSSH 10.1, "Match !final" too makes ssh read the files a
	// second time; fleet follows the installed ssh.
	notFinalUser := "bu"
	if installedOpenSSH().atLeast(10, 1) {
		notFinalUser = "$USER"
	}
	runSSHGCases(t, []sshGCase{
		{
			name: "host matches the HostName set above, originalhost the alias",
			files: map[string]string{".ssh/config": `Host h1
  HostName h2
Match host h1
  User wrong
Match host h2
  Port 1111
Match originalhost h1
  User bob
Match originalhost h2
  ServerAliveCountMax 99
`},
			want: map[string]map[string]string{
				"h1": {"hostname": "h2", "port": "1111", "user": "bob", "serveralivecountmax": "3"},
				"h2": {"hostname": "h2", "port": "1111", "user": "$USER", "serveralivecountmax": "99"},
			},
		},
		{
			name: "host takes a comma list with negation, case-insensitively",
			files: map[string]string{".ssh/config": `Match host h2,h3
  Port 2323
Match host !h9,H*
  User hh
Match host !x
  ServerAliveCountMax 77
`},
			want: map[string]map[string]string{
				"h3": {"port": "2323", "user": "hh", "serveralivecountmax": "3"},
				"h9": {"port": "22", "user": "$USER"},
			},
		},
		{
			name: "every criterion on the line must hold",
			files: map[string]string{".ssh/config": `Match host h3 user nobody-but-$USER
  User wrong
  Port 2222
Match host h3 user $USER
  Port 3333
Match host h3 !user $USER
  ServerAliveCountMax 5
`},
			want: map[string]map[string]string{
				"h3": {"port": "3333", "user": "$USER", "serveralivecountmax": "3"},
				"h4": {"port": "22"},
			},
		},
		{
			name: "user is the User set above, or the local user; localuser",
			files: map[string]string{".ssh/config": `Match user $USER
  ServerAliveCountMax 8
Host h
  User deploy
Match user deploy
  Port 4444
Match user $USER
  ControlPath /tmp/cp44
Match localuser $USER
  IdentityFile /keys/local
`},
			want: map[string]map[string]string{
				"h":     {"user": "deploy", "port": "4444", "serveralivecountmax": "8", "controlpath": "none", "identityfile": "/keys/local"},
				"other": {"user": "$USER", "port": "22", "serveralivecountmax": "8", "controlpath": "/tmp/cp44"},
			},
		},
		{
			name:  "a --user flag is what Match user sees, as ssh -l",
			files: map[string]string{".ssh/config": "Match user flaguser\n  Port 7\n"},
			ov:    Overrides{User: "flaguser"},
			want:  map[string]map[string]string{"h": {"user": "flaguser", "port": "7"}},
		},
		{
			name: "all, !all, all after one criterion, Key=Value and comments",
			files: map[string]string{".ssh/config": `Match !all
  Port 1
Match host=h all # a comment
  User allowed
Match all
  Port 2
`},
			want: map[string]map[string]string{"h": {"port": "2", "user": "allowed"}},
		},
		{
			name: "Match final reads the files again; Host then matches the host name",
			files: map[string]string{".ssh/config": `Host a
  HostName Target.Example
Match canonical
  Port 1001
Host target.example
  User tuser
Match final host target.example
  IdentityFile /kfinal
Match originalhost a final
  ServerAliveInterval 44
Host a
  HostName never
  ServerAliveCountMax 9
`},
			want: map[string]map[string]string{
				"a": {"hostname": "target.example", "port": "1001", "user": "tuser", "identityfile": "/kfinal",
					"serveraliveinterval": "44", "serveralivecountmax": "9"},
			},
		},
		{
			name: "canonical blocks apply when CanonicalizeHostname is on, and only then",
			files: map[string]string{".ssh/config": `Host a
  HostName B.example
  CanonicalizeHostname yes
Match canonical
  Port 9
Host b.example
  User bu
`},
			want: map[string]map[string]string{
				"a": {"hostname": "b.example", "port": "9", "user": "bu"},
				"x": {"hostname": "x", "port": "22", "user": "$USER"},
			},
		},
		{
			name: "Match !final",
			files: map[string]string{".ssh/config": `Host a
  HostName b.example
Match !final
  Port 5
Host b.example
  User bu
`},
			want: map[string]map[string]string{"a": {"hostname": "b.example", "port": "5", "user": notFinalUser}},
		},
		{
			name: "Match in an included file; an Include keeps the block it is in",
			files: map[string]string{
				".ssh/config": `Host x
  Include $HOME/.ssh/inc_x
  ServerAliveCountMax 6
Host *
  Port 22
`,
				".ssh/inc_x": `Port 5555
Match host x user nobody-but-$USER
  ServerAliveInterval 99
Match host x user $USER
  ServerAliveInterval 31
Host nomatch
  User never
`,
			},
			want: map[string]map[string]string{
				"x": {"port": "5555", "serveralivecountmax": "6", "serveraliveinterval": "31", "user": "$USER"},
				"y": {"port": "22", "serveralivecountmax": "3"},
			},
		},
		{
			name: "Match exec runs through the shell with tokens, after the other criteria",
			exec: true,
			files: map[string]string{".ssh/config": `Host h
  HostName hh.example
Match exec "test %h:%n:%p:%r = hh.example:h:22:$USER"
  Port 2001
Match exec false
  User never
Match !exec "exit 3" host hh.*
  ControlPath /tmp/cp61
`},
			want: map[string]map[string]string{
				"h": {"port": "2001", "user": "$USER", "controlpath": "/tmp/cp61"},
				"x": {"port": "22", "controlpath": "none"},
			},
		},
	})
}

// TestHostPatterns checks Host lines as OpenSSH reads them: '?' is
// exactly one character, patterns split on any blank and lose their
// quotes, a '#' starts a comment, and a comma is no separator.
func TestHostPatterns(t *testing.T) {
	runSSHGCases(t, []sshGCase{
		{
			name:  "? is exactly one character",
			files: map[string]string{".ssh/config": "Host web?\n  Port 3\n"},
			want: map[string]map[string]string{
				"web": {"port": "22"}, "web1": {"port": "3"}, "web10": {"port": "22"},
			},
		},
		{
			name:  "tabs separate patterns, quotes are removed",
			files: map[string]string{".ssh/config": "Host\ta\tb\n  Port 1\nHost \"s3\" 'q 1' x\n  Port 2\n"},
			want: map[string]map[string]string{
				"a": {"port": "1"}, "b": {"port": "1"}, "s3": {"port": "2"}, "x": {"port": "2"},
			},
		},
		{
			name:  "comments end a Host line and a value; commas are plain characters",
			files: map[string]string{".ssh/config": "Host c # d\n  Port 4 # four\n  UserKnownHostsFile /a \"/b c\" # /d\nHost e,f d\n  Port 6\n"},
			want: map[string]map[string]string{
				"c": {"port": "4", "userknownhostsfile": "/a /b c"},
				"d": {"port": "6"},
				"e": {"port": "22"},
			},
		},
	})
}

// TestInclude checks Include: values in included files are split as in
// the main file (quotes and blanks kept), relative names are under
// $HOME/.ssh (the home fleet read the config from, not the passwd
// entry's), globs skip hidden files, and a glob may match nothing.
func TestInclude(t *testing.T) {
	runSSHGCases(t, []sshGCase{
		{
			name: "a quoted IdentityFile with a blank, in an included file",
			files: map[string]string{
				".ssh/config": "Include $HOME/.ssh/inc\n",
				".ssh/inc":    "Host *\n  IdentityFile \"~/.ssh/my key\"\n  UserKnownHostsFile \"/kh/a b\" /kh/c\n",
			},
			want: map[string]map[string]string{
				"h": {"identityfile": "$HOME/.ssh/my key", "userknownhostsfile": "/kh/a b /kh/c"},
			},
		},
		{
			name: "glob(3)'s bracket negation, whole-path order, and hidden files behind //",
			files: map[string]string{
				".ssh/config":     "Include ~/g/[!_]*.conf\nHost a\n  Include ~/g/[^_]*.conf\nHost b\n  Include ~/g/conf*/*.conf\nHost c\n  Include ~/g//*.conf\n",
				"g/_a.conf":       "Port 53\n",
				"g/b.conf":        "User b54\n",
				"g/.a.conf":       "Port 57\n",
				"g/conf/x.conf":   "Port 51\n",
				"g/conf.d/x.conf": "Port 52\n",
			},
			want: map[string]map[string]string{
				"a": {"port": "53", "user": "b54"},
				"b": {"port": "52", "user": "b54"},
				"c": {"port": "53", "user": "b54"},
			},
		},
		{
			name: "relative and ~ names under this home, in glob order, hidden files skipped",
			files: map[string]string{
				".ssh/config":      "Include conf.d/* ~/other/none* ~/other/inc\nHost *\n  Port 22\n",
				".ssh/conf.d/20-b": "Host y\n  Port 2020\n  User b\n",
				".ssh/conf.d/10-a": "User a\nHost y\n  Port 1010\n",
				".ssh/conf.d/.swp": "Host *\n  Port 9\n",
				"other/inc":        "Host *\n  ServerAliveInterval 55\n",
			},
			want: map[string]map[string]string{
				"y": {"port": "1010", "user": "a", "serveraliveinterval": "55"},
				"z": {"port": "22", "user": "a"},
			},
		},
	})

	// Options from an included file name it, with its own line numbers.
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "inc"), []byte("# one\n\nPort 2345\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "cfg")
	if err := os.WriteFile(cfg, []byte("Include inc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, warns, err := NewResolver(Options{ConfigFile: cfg, Home: home, LocalUser: "me", LocalHost: "lh"})
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	tg, err := r.Resolve("h", nil)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "port", tg.Port, 2345)
	eq(t, "origin", tg.Origin["port"], "~/.ssh/inc:3")
}

// TestIncludeLoop checks that files including themselves end in one
// warning, quickly, and that the rest of the config still applies.
func TestIncludeLoop(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	config := "Include config\nInclude config\nHost *\n  Port 2\n"
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	r, warns, err := NewResolver(Options{Home: home, LocalUser: "me", LocalHost: "lh"})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].Msg, "nest more than 16 deep") {
		t.Errorf("warnings %v, want one about nesting", warns)
	}
	tg, err := r.Resolve("h", nil)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "port", tg.Port, 2)
}

// TestIncludeSystem checks that a system-wide file resolves a relative
// Include under /etc/ssh and may not use ~.
func TestIncludeSystem(t *testing.T) {
	l := &configLoader{home: t.TempDir()}
	l.parse([]byte("Include ~/x\nInclude zz-fleet-test-none-*\n"), "/etc/ssh/ssh_config", true, 0)
	if len(l.warns) != 1 || l.warns[0].Line != 1 || !strings.Contains(l.warns[0].Msg, "may not use ~") {
		t.Errorf("warnings %v, want one about ~ on line 1", l.warns)
	}
}

// TestUnsupportedMatch checks that a Match line fleet cannot evaluate is a
// warning naming the file, the line and the criterion; only that block is
// skipped, in the main file or an included one.
func TestUnsupportedMatch(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		".ssh/config": `Host a
  User u
  Include inc
Match exec "true"
  Port 2
Match host a localnetwork 10.0.0.0/8
  Port 3
Match host
  Port 4
Match all host a
  Port 5
Match host a
  ServerAliveInterval 9
`,
		".ssh/inc": "\nMatch tagged x\n  Port 6\nHost *\n  ConnectTimeout 7\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(home, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r, warns, err := NewResolver(Options{Home: home, LocalUser: "me", LocalHost: "lh"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		file string
		line int
		msg  []string
	}{
		{"~/.ssh/inc", 2, []string{`"tagged"`, "not support", "do not apply"}},
		{"~/.ssh/config", 4, []string{"Match exec", "does not run commands", "do not apply"}},
		{"~/.ssh/config", 6, []string{`"localnetwork"`, "not support", "do not apply"}},
		{"~/.ssh/config", 8, []string{`"host" needs an argument`}},
		{"~/.ssh/config", 10, []string{`"all" cannot be combined`}},
	}
	if len(warns) != len(want) {
		t.Fatalf("warnings %v, want %d", warns, len(want))
	}
	for i, w := range want {
		got := warns[i]
		if got.File != w.file || got.Line != w.line {
			t.Errorf("warning %d at %s:%d, want %s:%d (%s)", i, got.File, got.Line, w.file, w.line, got.Msg)
		}
		for _, m := range w.msg {
			if !strings.Contains(got.Msg, m) {
				t.Errorf("warning %q lacks %q", got.Msg, m)
			}
		}
	}
	tg, err := r.Resolve("a", nil)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "user", tg.User, "u")
	eq(t, "port", tg.Port, 22)
	eq(t, "connecttimeout", tg.ConnectTimeout.String(), "7s")
	eq(t, "serveraliveinterval", tg.ServerAliveInterval.String(), "9s")
}

// TestMatchExecLazy checks that a Match exec command runs only when the
// other criteria of its line hold, once per expanded command, and that a
// failure to run it is an error naming the line.
func TestMatchExecLazy(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	run := func(cmd string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, cmd)
		if cmd == "boom" {
			return false, os.ErrPermission
		}
		return strings.HasPrefix(cmd, "yes"), nil
	}
	config := `Match exec "yes %h" host other
  Port 1
Match exec "yes %n" host web*
  Port 2
Match exec "no %n"
  User never
Match exec "yes static"
  ServerAliveInterval 3
Match host bad exec boom
  Port 4
`
	path := filepath.Join(t.TempDir(), "cfg")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	r, warns, err := NewResolver(Options{ConfigFile: path, Home: "/home/me", LocalUser: "me", LocalHost: "lh",
		MatchExec: run})
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	for _, h := range []string{"web1", "web2"} {
		tg, err := r.Resolve(h, nil)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, h+" port", tg.Port, 2)
		eq(t, h+" user", tg.User, "me")
		eq(t, h+" serveraliveinterval", tg.ServerAliveInterval.String(), "3s")
	}
	eq(t, "commands run", ran, []string{"yes web1", "no web1", "yes static", "yes web2", "no web2"})
	_, err = r.Resolve("bad", nil)
	if err == nil || !strings.Contains(err.Error(), "cfg:9") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err = %v, want one naming cfg:9 and the command", err)
	}
}

func TestMatchPattern(t *testing.T) {
	for _, c := range []struct {
		s, p string
		want bool
	}{
		{"web1", "web?", true}, {"web", "web?", false}, {"web10", "web?", false},
		{"web10", "web*", true}, {"web", "web*", true}, {"a.b.c", "*.c", true}, {"abc", "a*b*c", true},
		{"abxc", "a*b?c", true}, {"abc", "a*b?c", false}, {"", "*", true}, {"", "?", false},
		{"Web1", "web1", false}, {"aaa", "*a*a*a*a", false}, {"x*y", "x*y", true},
	} {
		if got := matchPattern(c.s, c.p); got != c.want {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", c.s, c.p, got, c.want)
		}
	}
	for _, c := range []struct {
		s, list string
		want    int
	}{
		{"h3", "h2,h3", 1}, {"h3", "!h3,h*", -1}, {"h3", "!x", 0}, {"h3", "!x,h*", 1}, {"h3", "", 0},
	} {
		if got := matchPatternList(c.s, c.list, false); got != c.want {
			t.Errorf("matchPatternList(%q, %q) = %d, want %d", c.s, c.list, got, c.want)
		}
	}
}

func TestMatchWords(t *testing.T) {
	for in, want := range map[string][]string{
		`host a,b user x`:         {"host", "a,b", "user", "x"},
		`exec "test -f x" host=y`: {"exec", "test -f x", "host", "y"},
		"host\ta  =  b":           {"host", "a", "b"},
		`all # c`:                 {"all", "#", "c"},
	} {
		got, err := matchWords(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("matchWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := matchWords(`exec "open`); err == nil {
		t.Error("matchWords: no error for an open quote")
	}
}
