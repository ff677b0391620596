package target

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

var defaultKeys = []string{"/home/me/.ssh/id_rsa", "/home/me/.ssh/id_ecdsa", "/home/me/.ssh/id_ecdsa_sk",
	"/home/me/.ssh/id_ed25519", "/home/me/.ssh/id_ed25519_sk"}

func TestResolveDefaults(t *testing.T) {
	r, _ := newTestResolver(t, "", Overrides{})
	got, err := r.Resolve("Web1", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Target{
		Alias: "Web1", HostName: "web1", Port: 22, User: "me",
		IdentityFiles: defaultKeys, IdentityAgent: "/run/agent.sock",
		UserKnownHostsFiles:   []string{"/home/me/.ssh/known_hosts", "/home/me/.ssh/known_hosts2"},
		GlobalKnownHostsFiles: []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"},
		StrictHostKeyChecking: "ask",
		ConnectTimeout:        10 * time.Second, ServerAliveInterval: 15 * time.Second, ServerAliveCountMax: 3,
		ControlMaster: "no", ControlPath: "none", ControlPersist: "no", MaxSessions: 10,
		ConnHash: (&tokens{lhost: r.lhost, host: "web1", port: "22", ruser: "me"}).connHash(),
	}
	got.Origin = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestResolve checks single options from config text, inventory vars and
// flags against the resolved Target.
func TestResolve(t *testing.T) {
	tests := []struct {
		name   string
		config string
		alias  string
		vars   *vars.Map
		ov     Overrides
		check  func(t *testing.T, tg *Target)
	}{
		{
			name: "first value wins across blocks; negation excludes",
			config: `Host *.prod !db*.prod
  User app
Host web*
  User web
  Port 2222
Host *
  User fallback
  Port 22
`,
			alias: "web1.prod",
			check: func(t *testing.T, tg *Target) {
				eq(t, "user", tg.User, "app")
				eq(t, "port", tg.Port, 2222)
				eq(t, "origin user", tg.Origin["user"], "CFG:2")
			},
		},
		{
			name:   "negated pattern skips the block",
			config: "Host *.prod !db*.prod\n  User app\nHost *\n  User fallback\n",
			alias:  "db1.prod",
			check:  func(t *testing.T, tg *Target) { eq(t, "user", tg.User, "fallback") },
		},
		{
			name:   "HostName %h and tokens in paths",
			config: "Host h1\n  HostName %h.Example.COM\n  User u\n  Port 2200\n  IdentityFile ~/.ssh/%h-%r-%p-%n-%u-%l-%L-%d\n  IdentityFile ${KEYDIR}/k_%%\n  UserKnownHostsFile %d/kh \"/a b/%k\"\n  HostKeyAlias alias1\n",
			alias:  "h1",
			check: func(t *testing.T, tg *Target) {
				eq(t, "hostname", tg.HostName, "h1.example.com")
				eq(t, "identityfiles", tg.IdentityFiles, []string{
					"/home/me/.ssh/h1.example.com-u-2200-h1-me-lh.example-lh-/home/me", "/keys/k_%"})
				eq(t, "knownhosts", tg.UserKnownHostsFiles, []string{"/home/me/kh", "/a b/alias1"})
				eq(t, "hostkeyalias", tg.HostKeyAlias, "alias1")
			},
		},
		{
			name:   "ControlPath %C without jump host",
			config: "Host h\n  HostName 10.1.1.1\n  User u\n  ControlPath ~/.ssh/cm-%C\n  ControlMaster auto\n  ControlPersist 10m\n",
			alias:  "h",
			check: func(t *testing.T, tg *Target) {
				// sha1("lh.example" + "10.1.1.1" + "22" + "u")
				eq(t, "controlpath", tg.ControlPath, "/home/me/.ssh/cm-"+sha1hex("lh.example10.1.1.122u"))
				eq(t, "controlmaster", tg.ControlMaster, "auto")
				eq(t, "controlpersist", tg.ControlPersist, "600")
			},
		},
		{
			name:   "ControlPath %C includes the last jump host",
			config: "Host h\n  User u\n  ProxyJump j1,j2:2200\n  ControlPath /tmp/%C-%j\n",
			alias:  "h",
			check: func(t *testing.T, tg *Target) {
				eq(t, "controlpath", tg.ControlPath, "/tmp/"+sha1hex("lh.exampleh22uj2")+"-j2")
			},
		},
		{
			name:   "time, yes/no and strictness spellings",
			config: "Host *\n  ConnectTimeout 1m30s\n  ServerAliveInterval 0\n  ServerAliveCountMax 5\n  StrictHostKeyChecking off\n  IdentitiesOnly yes\n  IdentityAgent none\n  ControlMaster true\n",
			alias:  "x",
			check: func(t *testing.T, tg *Target) {
				eq(t, "connecttimeout", tg.ConnectTimeout, 90*time.Second)
				eq(t, "serveraliveinterval", tg.ServerAliveInterval, time.Duration(0))
				eq(t, "serveralivecountmax", tg.ServerAliveCountMax, 5)
				eq(t, "strict", tg.StrictHostKeyChecking, "no")
				eq(t, "identitiesonly", tg.IdentitiesOnly, true)
				eq(t, "identityagent", tg.IdentityAgent, "")
				eq(t, "controlmaster", tg.ControlMaster, "yes")
			},
		},
		{
			name:   "ConnectTimeout none and IdentityAgent path",
			config: "Host *\n  ConnectTimeout none\n  IdentityAgent ~/agent-%h\n  UserKnownHostsFile none\n",
			alias:  "x",
			check: func(t *testing.T, tg *Target) {
				eq(t, "connecttimeout", tg.ConnectTimeout, time.Duration(0))
				eq(t, "identityagent", tg.IdentityAgent, "/home/me/agent-x")
				eq(t, "knownhosts", len(tg.UserKnownHostsFiles), 0)
			},
		},
		{
			name:   "ssh_config options come from the alias's blocks when ansible_host is set",
			config: "Host web1\n  HostName ignored.example\n  User fromcfg\nHost 10.0.0.5\n  User wrong\n",
			alias:  "web1",
			vars:   varsOf("ansible_host", "10.0.0.5"),
			check: func(t *testing.T, tg *Target) {
				eq(t, "hostname", tg.HostName, "10.0.0.5")
				eq(t, "user", tg.User, "fromcfg")
				eq(t, "origin hostname", tg.Origin["hostname"], "inventory var ansible_host")
			},
		},
		{
			name:  "Ansible vars: ssh_ spellings win, strings converted",
			alias: "h",
			vars: varsOf("ansible_host", "a.example", "ansible_ssh_host", "b.example",
				"ansible_port", "2201", "ansible_ssh_user", vars.Unsafe("{{literal}}"),
				"ansible_timeout", 7.0, "ansible_host_key_checking", "False",
				"fleet_max_sessions", int64(4), "fleet_fresh", "yes"),
			check: func(t *testing.T, tg *Target) {
				eq(t, "hostname", tg.HostName, "b.example")
				eq(t, "port", tg.Port, 2201)
				eq(t, "user", tg.User, "{{literal}}")
				eq(t, "connecttimeout", tg.ConnectTimeout, 7*time.Second)
				eq(t, "strict", tg.StrictHostKeyChecking, "no")
				eq(t, "maxsessions", tg.MaxSessions, 4)
				eq(t, "fresh", tg.Fresh, true)
				eq(t, "origin maxsessions", tg.Origin["maxsessions"], "inventory var fleet_max_sessions")
			},
		},
		{
			name:   "ansible_ssh_common_args and extra args",
			config: "Host *\n  User cfg\n",
			alias:  "h",
			vars: varsOf("ansible_ssh_common_args", `-o StrictHostKeyChecking=accept-new -o "UserKnownHostsFile /dev/null" -J 'admin@bastion:2200' -oServerAliveInterval=5`,
				"ansible_ssh_extra_args", "-i ~/.ssh/extra -p 2022 -l extrauser -o Compression=yes"),
			check: func(t *testing.T, tg *Target) {
				eq(t, "strict", tg.StrictHostKeyChecking, "accept-new")
				eq(t, "knownhosts", tg.UserKnownHostsFiles, []string{"/dev/null"})
				eq(t, "serveraliveinterval", tg.ServerAliveInterval, 5*time.Second)
				eq(t, "identityfiles", tg.IdentityFiles, []string{"/home/me/.ssh/extra"})
				eq(t, "port", tg.Port, 2022)
				eq(t, "user", tg.User, "extrauser")
				eq(t, "jumps", len(tg.ProxyJump), 1)
				eq(t, "jump", tg.ProxyJump[0].Key(), "admin@bastion:2200")
				eq(t, "origin user", tg.Origin["user"], "inventory var ansible_ssh_extra_args")
			},
		},
		{
			name:   "flags and -o options",
			config: "Host *\n  ControlPath /cfg/%C\n  Port 2000\n",
			alias:  "h",
			ov: Overrides{ConnectTimeout: 1500 * time.Millisecond, MaxSessions: 3, Fresh: true,
				StrictHostKeyChecking: "accept-new", ControlPath: "none",
				Options: []string{"Port=2100", "ServerAliveCountMax 9", "StrictHostKeyChecking=no", "ForwardAgent yes"}},
			vars: varsOf("fleet_max_sessions", 5, "fleet_fresh", false, "ansible_ssh_common_args", "-o ServerAliveCountMax=1"),
			check: func(t *testing.T, tg *Target) {
				eq(t, "connecttimeout", tg.ConnectTimeout, 1500*time.Millisecond)
				eq(t, "maxsessions", tg.MaxSessions, 3)
				eq(t, "fresh", tg.Fresh, true)
				eq(t, "strict", tg.StrictHostKeyChecking, "accept-new")
				eq(t, "controlpath", tg.ControlPath, "none")
				eq(t, "port", tg.Port, 2100)
				eq(t, "serveralivecountmax", tg.ServerAliveCountMax, 9)
				eq(t, "origin port", tg.Origin["port"], "flag --ssh-option")
				eq(t, "origin controlpath", tg.Origin["controlpath"], "flag --control-path")
			},
		},
		{
			name:   "ProxyJump none and ProxyCommand none connect directly",
			config: "Host a\n  ProxyCommand none\n  ProxyJump x\nHost b\n  ProxyJump none\nHost *\n  ProxyJump y\n",
			alias:  "a",
			check:  func(t *testing.T, tg *Target) { eq(t, "jumps", len(tg.ProxyJump), 0) },
		},
		{
			name:   "ProxyCommand, its tokens expanded when used",
			config: "Host a\n  HostName 10.0.0.5\n  User u\n  Port 2222\n  ProxyCommand ssh -W %h:%p -l %r %n  \"b c\" %%\n",
			alias:  "a",
			check: func(t *testing.T, tg *Target) {
				eq(t, "jumps", len(tg.ProxyJump), 0)
				eq(t, "proxycommand", tg.ProxyCommand, `ssh -W %h:%p -l %r %n  "b c" %%`)
				eq(t, "expanded", tg.ProxyCommandLine(), `ssh -W 10.0.0.5:2222 -l u a  "b c" %`)
				eq(t, "key", tg.Key(), `u@10.0.0.5:2222 via ProxyCommand ssh -W 10.0.0.5:2222 -l u a  "b c" %`)
			},
		},
		{
			name:   "ProxyCommand takes names that only look odd, and ignores what it does not expand",
			config: "Host *\n  ProxyCommand nc %h %p\n",
			vars:   varsOf("ansible_host", "fe80::1", "ansible_user", "bad;user"),
			alias:  "a",
			check: func(t *testing.T, tg *Target) {
				eq(t, "expanded", tg.ProxyCommandLine(), "nc fe80::1 22")
			},
		},
		{
			name:  "ProxyCommand from ansible_ssh_common_args",
			vars:  varsOf("ansible_ssh_common_args", `-o ProxyCommand="ssh -W %h:%p -q bastion"`),
			alias: "a",
			check: func(t *testing.T, tg *Target) {
				eq(t, "proxycommand", tg.ProxyCommand, "ssh -W %h:%p -q bastion")
			},
		},
		{
			name:   "a first hop's ProxyCommand takes it there",
			config: "Host a\n  ProxyJump j,k\nHost j k\n  ProxyCommand nc %h %p\n",
			alias:  "a",
			check: func(t *testing.T, tg *Target) {
				eq(t, "hops", len(tg.ProxyJump), 2)
				eq(t, "first hop", tg.ProxyJump[0].ProxyCommand, "nc %h %p")
				eq(t, "second hop", tg.ProxyJump[1].ProxyCommand, "")
				eq(t, "target", tg.ProxyCommand, "")
			},
		},
		{
			name:   "ProxyJump before ProxyCommand wins",
			config: "Host a\n  ProxyJump ssh://u@j:23\n  ProxyCommand nc %h %p\n",
			alias:  "a",
			check: func(t *testing.T, tg *Target) {
				eq(t, "jumps", len(tg.ProxyJump), 1)
				eq(t, "jump", tg.ProxyJump[0].Key(), "u@j:23")
			},
		},
		{
			name: "jump chain: hops resolved through ssh_config; only the first hop's own ProxyJump counts",
			config: `Host target
  User t
  ProxyJump first,admin@second:2200
Host first
  HostName 10.0.0.1
  User f
  ProxyJump inner
Host second
  HostName 10.0.0.2
  User ignored
  Port 9999
  ProxyJump never
  IdentityFile ~/.ssh/second
Host inner
  HostName 10.0.0.9
`,
			alias: "target",
			check: func(t *testing.T, tg *Target) {
				var keys []string
				for _, h := range tg.ProxyJump {
					keys = append(keys, h.Alias+"="+h.addr())
				}
				eq(t, "chain", keys, []string{"inner=me@10.0.0.9:22", "first=f@10.0.0.1:22", "second=admin@10.0.0.2:2200"})
				eq(t, "key", tg.Key(), "t@target:22 via admin@10.0.0.2:2200 via f@10.0.0.1:22 via me@10.0.0.9:22")
				eq(t, "hop key", tg.ProxyJump[2].Key(), "admin@10.0.0.2:2200 via f@10.0.0.1:22 via me@10.0.0.9:22")
				eq(t, "hop identity", tg.ProxyJump[2].IdentityFiles, []string{"/home/me/.ssh/second"})
				eq(t, "hop origin", tg.ProxyJump[2].Origin["user"], "ProxyJump (CFG:3)")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, warns := newTestResolver(t, tt.config, tt.ov)
			if len(warns) > 0 {
				t.Fatalf("warnings: %v", warns)
			}
			tg, err := r.Resolve(tt.alias, tt.vars)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			for k, v := range tg.Origin {
				tg.Origin[k] = strings.ReplaceAll(v, r.files[0].name, "CFG")
			}
			for _, h := range tg.ProxyJump {
				for k, v := range h.Origin {
					h.Origin[k] = strings.ReplaceAll(v, r.files[0].name, "CFG")
				}
			}
			tt.check(t, tg)
		})
	}
}

// TestPrecedence checks flag > inventory var > ssh_config > default for
// user, port and identity files.
func TestPrecedence(t *testing.T) {
	const config = "Host h\n  User cfguser\n  Port 2000\n  IdentityFile ~/.ssh/cfgkey\n"
	inv := varsOf("ansible_user", "invuser", "ansible_port", 3000, "ansible_ssh_private_key_file", "~/.ssh/invkey")
	flags := Overrides{User: "flaguser", Port: 4000, IdentityFiles: []string{"/flagkey"}}
	tests := []struct {
		name               string
		config             string
		vars               *vars.Map
		ov                 Overrides
		user               string
		port               int
		keys               []string
		userOrigin, keyOrg string
	}{
		{"default", "", nil, Overrides{}, "me", 22, defaultKeys, "default", "default"},
		{"config", config, nil, Overrides{}, "cfguser", 2000, []string{"/home/me/.ssh/cfgkey"}, "CFG:2", "CFG:4"},
		{"inventory", config, inv, Overrides{}, "invuser", 3000,
			[]string{"/home/me/.ssh/invkey", "/home/me/.ssh/cfgkey"}, "inventory var ansible_user",
			"inventory var ansible_ssh_private_key_file, CFG:4"},
		{"flag", config, inv, flags, "flaguser", 4000,
			[]string{"/flagkey", "/home/me/.ssh/invkey", "/home/me/.ssh/cfgkey"}, "flag --user",
			"flag --private-key, inventory var ansible_ssh_private_key_file, CFG:4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestResolver(t, tt.config, tt.ov)
			tg, err := r.Resolve("h", tt.vars)
			if err != nil {
				t.Fatal(err)
			}
			cfg := r.files[0].name
			eq(t, "user", tg.User, tt.user)
			eq(t, "port", tg.Port, tt.port)
			eq(t, "identityfiles", tg.IdentityFiles, tt.keys)
			eq(t, "user origin", strings.ReplaceAll(tg.Origin["user"], cfg, "CFG"), tt.userOrigin)
			eq(t, "identityfile origin", strings.ReplaceAll(tg.Origin["identityfile"], cfg, "CFG"), tt.keyOrg)
		})
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name, config string
		vars         *vars.Map
		ov           Overrides
		want         []string // substrings of the error
	}{
		{"bad port var", "", varsOf("ansible_port", "abc"), Overrides{}, []string{"host h", "ansible_port", `"abc"`}},
		{"port var out of range", "", varsOf("ansible_port", 70000), Overrides{}, []string{"ansible_port", "out of range"}},
		{"wrong type", "", varsOf("ansible_user", []any{"a"}), Overrides{}, []string{"host h", "ansible_user", "a list"}},
		{"bool type", "", varsOf("ansible_host", true), Overrides{}, []string{"ansible_host", "boolean"}},
		{"template", "", varsOf("ansible_host", "{{ ip }}"), Overrides{}, []string{"ansible_host", "templating inventory vars is not supported yet"}},
		{"bad bool", "", varsOf("fleet_fresh", "maybe"), Overrides{}, []string{"fleet_fresh", "boolean"}},
		{"max sessions zero", "", varsOf("fleet_max_sessions", 0), Overrides{}, []string{"fleet_max_sessions", "out of range"}},
		{"vault", "", varsOf("ansible_user", vars.Vault{Ciphertext: "x"}), Overrides{}, []string{"ansible_user", "ansible-vault"}},
		{"unsupported ssh arg", "", varsOf("ansible_ssh_common_args", "-o User=x -A"), Overrides{}, []string{"host h", "ansible_ssh_common_args", `"-A"`}},
		{"-F per host", "", varsOf("ansible_ssh_extra_args", "-F /x"), Overrides{}, []string{"ansible_ssh_extra_args", "-F", "not supported per host"}},
		{"unbalanced quote", "", varsOf("ansible_ssh_common_args", "-o 'User=x"), Overrides{}, []string{"ansible_ssh_common_args", "quotation"}},
		{"ProxyCommand token", "Host *\n  ProxyCommand ssh -W %h:%p %C\n", nil, Overrides{}, []string{"host h", "ProxyCommand", "ssh_config:2", "%C", "%h"}},
		{"ProxyCommand and a host name with a command in it", "Host *\n  ProxyCommand ssh -W %h:%p bastion\n", varsOf("ansible_host", "web1$(touch${IFS}/tmp/x)"), Overrides{}, []string{"host h", "ProxyCommand", "%h", "shell"}},
		{"ProxyCommand and a user with a command in it", "Host *\n  ProxyCommand ssh -l %r -W %h:%p bastion\n", varsOf("ansible_user", "x;touch /tmp/x;"), Overrides{}, []string{"host h", "%r", "x;touch"}},
		{"ProxyCommand and a host name like an option", "Host *\n  ProxyCommand nc %h %p\n", varsOf("ansible_host", "-oProxyCommand=x"), Overrides{}, []string{"%h", "-oproxycommand=x"}},
		{"ProxyCommand lone %", "", varsOf("ansible_ssh_common_args", `-o ProxyCommand="nc %h %"`), Overrides{}, []string{"ProxyCommand", "ansible_ssh_common_args", "lone %"}},
		{"ProxyJump loop", "Host h\n  ProxyJump a\nHost a\n  ProxyJump b\nHost b\n  ProxyJump h\n", nil, Overrides{}, []string{"loop", "h -> a -> b -> h"}},
		{"ProxyJump to itself", "Host h\n  ProxyJump h\n", nil, Overrides{}, []string{"loop"}},
		{"bad jump", "Host h\n  ProxyJump u@:22\n", nil, Overrides{}, []string{"ProxyJump", "u@:22"}},
		{"bad port in config", "Host h\n  Port x\n", nil, Overrides{}, []string{"host h", "Port", `"x"`, "ssh_config:2"}},
		{"bad strict", "Host h\n  StrictHostKeyChecking maybe\n", nil, Overrides{}, []string{"StrictHostKeyChecking", "maybe"}},
		{"bad time", "Host h\n  ConnectTimeout soon\n", nil, Overrides{}, []string{"ConnectTimeout", "soon"}},
		{"unknown token", "Host h\n  IdentityFile ~/%z\n", nil, Overrides{}, []string{"IdentityFile", "%z"}},
		{"unset env", "Host h\n  ControlPath ${NOPE}/x\n", nil, Overrides{}, []string{"ControlPath", "NOPE"}},
		{"bad -o value", "", nil, Overrides{Options: []string{"ConnectTimeout=abc"}}, []string{"ConnectTimeout", "flag --ssh-option"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestResolver(t, tt.config, tt.ov)
			_, err := r.Resolve("h", tt.vars)
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			msg := err.Error() + "\nhint: " + diag.Hint(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestNewResolverErrors(t *testing.T) {
	base := Options{Home: "/home/me", LocalUser: "me", LocalHost: "lh"}
	tests := []struct {
		name string
		opts func(o *Options)
		want string
	}{
		{"missing explicit file", func(o *Options) { o.ConfigFile = filepath.Join(t.TempDir(), "nope") }, "cannot read"},
		{"bad flag port", func(o *Options) { o.Overrides.Port = 70000 }, "--port"},
		{"bad flag strictness", func(o *Options) { o.Overrides.StrictHostKeyChecking = "sometimes" }, "--strict-host-key-checking"},
		{"bad -o", func(o *Options) { o.Overrides.Options = []string{"Port"} }, "Key=Value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.opts(&o)
			_, _, err := NewResolver(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestDefaultConfigFiles checks that ~/.ssh/config is read under Home and
// named as the user knows it.
func TestDefaultConfigFiles(t *testing.T) {
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte("# c\nHost zz-fleet-test\n  Port 2345\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _, err := NewResolver(Options{Home: home, LocalUser: "me", LocalHost: "lh"})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := r.Resolve("zz-fleet-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "port", tg.Port, 2345)
	eq(t, "origin", tg.Origin["port"], "~/.ssh/config:3")

	// No ~/.ssh/config at all is fine.
	if _, _, err := NewResolver(Options{Home: t.TempDir(), LocalUser: "me", LocalHost: "lh"}); err != nil {
		t.Fatalf("missing default config: %v", err)
	}
}

func TestWriteConfig(t *testing.T) {
	r, _ := newTestResolver(t, "Host web\n  HostName 10.0.0.5\n  User deploy\n  ProxyJump admin@bastion\n  HostKeyAlias webkey\n  IdentityFile /k1\n  IdentityFile /k2\n", Overrides{})
	tg, err := r.Resolve("web", varsOf("fleet_max_sessions", 7))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tg.WriteConfig(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"\nhostname 10.0.0.5\n", "\nport 22\n", "\nuser deploy\n", "\nidentityfile /k1\nidentityfile /k2\n",
		"\nproxyjump admin@bastion\n", "\nhostkeyalias webkey\n", "\nconnecttimeout 10\n",
		"\nuserknownhostsfile /home/me/.ssh/known_hosts /home/me/.ssh/known_hosts2\n",
		"\nserveraliveinterval 15\n", "\ncontrolpath none\n", "\n# fleet: maxsessions 7\n", "\n# fleet: fresh no\n",
		"#   maxsessions: inventory var fleet_max_sessions\n", "#   port: default\n",
		"# fleet: connection deploy@10.0.0.5:22 via admin@bastion:22\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	eq(t, "key", tg.Key(), "deploy@10.0.0.5:22 via admin@bastion:22")
}

func TestKeyIPv6(t *testing.T) {
	tg := &Target{User: "u", HostName: "::1", Port: 22, ProxyJump: []*Target{{User: "a", HostName: "b", Port: 2}}}
	eq(t, "key", tg.Key(), "u@[::1]:22 via a@b:2")
}

// TestResolveConcurrent runs Resolve from several goroutines, for the race
// detector.
func TestResolveConcurrent(t *testing.T) {
	r, _ := newTestResolver(t, "Host j\n  ProxyJump none\nHost *\n  ProxyJump j\n  ControlPath /tmp/%C\n", Overrides{})
	done := make(chan error)
	for i := 0; i < 4; i++ {
		go func() {
			_, err := r.Resolve("h", varsOf("ansible_port", 2200))
			done <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in          string
		shell, conf []string
	}{
		{`a "b c" 'd e'`, []string{"a", "b c", "d e"}, []string{"a", "b c", "d e"}},
		{`x\ y "q\"q" ''`, []string{"x y", `q"q`, ""}, []string{"x y", `q"q`, ""}},
		{`a#b \\n`, []string{"a#b", `\n`}, []string{"a#b", `\n`}},
		{`p\q`, []string{"pq"}, []string{`p\q`}},
	}
	for _, tt := range tests {
		s, err := splitShellWords(tt.in)
		if err != nil || !reflect.DeepEqual(s, tt.shell) {
			t.Errorf("splitShellWords(%q) = %q, %v; want %q", tt.in, s, err, tt.shell)
		}
		c, err := splitConfigArgs(tt.in)
		if err != nil || !reflect.DeepEqual(c, tt.conf) {
			t.Errorf("splitConfigArgs(%q) = %q, %v; want %q", tt.in, c, err, tt.conf)
		}
	}
	for _, bad := range []string{`"open`, `'open`} {
		if _, err := splitShellWords(bad); err == nil {
			t.Errorf("splitShellWords(%q): no error", bad)
		}
		if _, err := splitConfigArgs(bad); err == nil {
			t.Errorf("splitConfigArgs(%q): no error", bad)
		}
	}
}

func TestParseSSHTime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30": 30 * time.Second, "30s": 30 * time.Second, "5M": 5 * time.Minute, "1h30m": 90 * time.Minute,
		"1w": 7 * 24 * time.Hour, "1.5s": 1500 * time.Millisecond, "0": 0,
	} {
		if got, err := parseSSHTime(in); err != nil || got != want {
			t.Errorf("parseSSHTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-5", "5x", "99999999999999"} {
		if got, err := parseSSHTime(bad); err == nil {
			t.Errorf("parseSSHTime(%q) = %v, want an error", bad, got)
		}
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// Host blocks apply in file order whether they name the host plainly or by
// pattern, and a negated name excludes its block: the indexed lookup must
// agree with matching every block in turn.
func TestHostBlockOrder(t *testing.T) {
	config := `
Host web1 db1
  Port 2201
Host web*
  Port 2202
  User webber
Host !web1 web1 web2
  User never
Host web1
  User first-plain-after-wild
Host *
  ConnectTimeout 7
`
	r, _ := newTestResolver(t, config, Overrides{})
	cases := []struct {
		alias, user string
		port        int
	}{
		{"web1", "webber", 2201},
		{"web2", "webber", 2202},
		{"db1", "me", 2201},
		{"other", "me", 22},
	}
	for _, c := range cases {
		got, err := r.Resolve(c.alias, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.User != c.user || got.Port != c.port || got.ConnectTimeout != 7*time.Second {
			t.Errorf("%s: user %s port %d timeout %s; want %s %d 7s", c.alias, got.User, got.Port, got.ConnectTimeout, c.user, c.port)
		}
	}
}
