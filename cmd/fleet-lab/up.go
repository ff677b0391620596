package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/internal/labhost"
)

const (
	defaultPort = 2222
	maxHosts    = 2000
	// labNet is the loopback /16 the hosts live in: 127.77.B.H, with one
	// /24 (B) per running fleet-lab so that two can run side by side.
	labNet = "127.77"
	// blockProbes is how many /24s are tried before sharing one with
	// random ports.
	blockProbes = 16
)

// upOptions are the inputs of `fleet-lab up`.
type upOptions struct {
	N           int
	Dir         string
	MaxSessions int
	Password    string
	Port        int // preferred port on each host address; 0 = random
	Stdout      io.Writer
	Logf        func(format string, args ...any) // optional
}

// usageError is bad input from the command line (exit code 2).
type usageError struct{ err *diag.Error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// labHost is one running host and what the written files say about it.
type labHost struct {
	name string
	srv  *labhost.Server
	key  ssh.PublicKey
}

// runUp starts opts.N lab hosts, writes the files into opts.Dir, writes
// DIR/ready last, and serves until ctx is done. It then removes DIR/ready
// and shuts every host down before returning.
func runUp(ctx context.Context, opts upOptions) (err error) {
	switch {
	case opts.Dir == "":
		return usageError{&diag.Error{Pkg: "fleet-lab", Msg: "no directory given", Hint: "pass -dir DIR, e.g. `fleet-lab up -dir /tmp/lab`"}}
	case opts.N < 1 || opts.N > maxHosts:
		return usageError{&diag.Error{Pkg: "fleet-lab", Msg: fmt.Sprintf("-n %d is out of range", opts.N), Hint: fmt.Sprintf("ask for 1 to %d hosts", maxHosts)}}
	case opts.MaxSessions < 1:
		return usageError{&diag.Error{Pkg: "fleet-lab", Msg: fmt.Sprintf("-max-sessions %d is out of range", opts.MaxSessions), Hint: "allow at least 1 session per connection (sshd's default is 10)"}}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return fmt.Errorf("fleet-lab: directory %q: %w", opts.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fleet-lab: create the lab directory: %w", err)
	}
	ready := filepath.Join(dir, "ready")
	// A ready file left by a killed run would tell scripts to go ahead
	// before these hosts exist.
	if err := os.Remove(ready); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fleet-lab: remove the stale %s: %w", ready, err)
	}

	clientKey, err := writeClientKey(dir)
	if err != nil {
		return err
	}

	hosts := make([]labHost, 0, opts.N)
	defer func() {
		for _, h := range hosts {
			h.srv.Close()
		}
	}()
	addrs := chooseAddrs(ctx, opts.N, opts.Port)
	width := max(2, len(strconv.Itoa(opts.N)))
	for i := range opts.N {
		name := fmt.Sprintf("lab%0*d", width, i+1)
		h, err := startHost(ctx, opts, dir, name, addrs[i], clientKey)
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted while starting: not an error
			}
			return err
		}
		hosts = append(hosts, h)
	}

	userName := currentUser()
	files := []struct {
		name string
		data []byte
	}{
		{"known_hosts", knownHostsFile(hosts)},
		{"ssh_config", sshConfigFile(hosts, dir, userName)},
		{"inventory.yml", inventoryFile(hosts)},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	// From here on, leave no ready file behind, however we return.
	defer func() {
		if rerr := os.Remove(ready); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = fmt.Errorf("fleet-lab: remove %s on shutdown: %w", ready, rerr)
		}
	}()
	printSummary(opts.Stdout, hosts, dir, opts.MaxSessions)
	if err := writeFileAtomic(ready, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}

	<-ctx.Done()
	// Remove ready before the hosts go away, so no script starts on a
	// lab that is shutting down.
	if err := os.Remove(ready); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fleet-lab: remove %s on shutdown: %w", ready, err)
	}
	return nil
}

// writeClientKey creates the ed25519 key clients log in with.
func writeClientKey(dir string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fleet-lab: generate the client key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "fleet-lab client key")
	if err != nil {
		return nil, fmt.Errorf("fleet-lab: encode the client key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("fleet-lab: encode the client public key: %w", err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(sshPub)), "\n") + " fleet-lab\n"
	if err := writeFileAtomic(keyFile+".pub", []byte(line), 0o644); err != nil {
		return nil, err
	}
	return sshPub, nil
}

// chooseAddrs picks a listen address for each host: one loopback IP each
// in the first free 127.77.B.0/24 block, on port. Where such addresses
// cannot be bound (macOS and the BSDs configure only 127.0.0.1), every host
// gets 127.0.0.1 and a random port.
func chooseAddrs(ctx context.Context, n, port int) []string {
	block := 0
	var lc net.ListenConfig
	for b := range blockProbes {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(hostIP(b, 0), strconv.Itoa(port)))
		if err == nil {
			ln.Close()
			block = b
			break
		}
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			addrs := make([]string, n)
			for i := range addrs {
				addrs[i] = "127.0.0.1:0"
			}
			return addrs
		}
		// In use (another fleet-lab?): try the next block. If all are
		// taken, startHost falls back to random ports in block 0.
	}
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = net.JoinHostPort(hostIP(block, i), strconv.Itoa(port))
	}
	return addrs
}

// hostIP is the i-th host address of a block; hosts past 254 spill into
// the following /24s.
func hostIP(block, i int) string {
	return fmt.Sprintf("%s.%d.%d", labNet, (block+i/254)%256, 1+i%254)
}

func startHost(ctx context.Context, opts upOptions, dir, name, addr string, clientKey ssh.PublicKey) (labHost, error) {
	home := filepath.Join(dir, "hosts", name, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return labHost{}, fmt.Errorf("fleet-lab: %s: create home: %w", name, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return labHost{}, fmt.Errorf("fleet-lab: %s: generate host key: %w", name, err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return labHost{}, fmt.Errorf("fleet-lab: %s: host key: %w", name, err)
	}
	lo := labhost.Options{
		Addr:           addr,
		HostKey:        signer,
		AuthorizedKeys: []ssh.PublicKey{clientKey},
		Password:       opts.Password,
		MaxSessions:    opts.MaxSessions,
		Home:           home,
	}
	if opts.Logf != nil {
		lo.Logf = func(format string, args ...any) { opts.Logf(name+": "+format, args...) }
	}
	srv, err := labhost.Start(ctx, lo)
	if err != nil && errors.Is(err, syscall.EADDRINUSE) {
		// The preferred port is taken on this address; any port will do,
		// since the written files say which one.
		host, _, _ := net.SplitHostPort(addr)
		lo.Addr = net.JoinHostPort(host, "0")
		srv, err = labhost.Start(ctx, lo)
	}
	if err != nil {
		return labHost{}, &diag.Error{Pkg: "fleet-lab", Msg: fmt.Sprintf("%s: %v", name, err),
			Hint: "is another program using these loopback addresses? Try fewer hosts (-n) or stop other labs", Err: err}
	}
	return labHost{name: name, srv: srv, key: signer.PublicKey()}, nil
}

// knownHostsFile lists every host key under the address ssh will look up:
// "[ip]:port", or plain "ip" for port 22.
func knownHostsFile(hosts []labHost) []byte {
	var b strings.Builder
	for _, h := range hosts {
		b.WriteString(knownhosts.Line([]string{h.srv.Addr().String()}, h.key))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func sshConfigFile(hosts []labHost, dir, userName string) []byte {
	var b strings.Builder
	b.WriteString("# Written by fleet-lab; use with `ssh -F` or `fleet --ssh-config`.\n")
	for _, h := range hosts {
		a := h.srv.Addr()
		fmt.Fprintf(&b, "\nHost %s\n", h.name)
		fmt.Fprintf(&b, "  HostName %s\n", a.IP)
		fmt.Fprintf(&b, "  Port %d\n", a.Port)
		fmt.Fprintf(&b, "  User %s\n", configValue(userName))
		fmt.Fprintf(&b, "  IdentityFile %s\n", configValue(filepath.Join(dir, "id_ed25519")))
		b.WriteString("  IdentitiesOnly yes\n")
		fmt.Fprintf(&b, "  UserKnownHostsFile %s\n", configValue(filepath.Join(dir, "known_hosts")))
		b.WriteString("  StrictHostKeyChecking yes\n")
	}
	return []byte(b.String())
}

// configValue quotes a value with spaces as ssh_config expects.
func configValue(s string) string {
	if strings.ContainsAny(s, " \t") {
		return `"` + s + `"`
	}
	return s
}

// inventoryFile is an Ansible YAML inventory: the first half of the hosts
// in group web, the rest in db.
func inventoryFile(hosts []labHost) []byte {
	var b strings.Builder
	b.WriteString("# Written by fleet-lab. Connection settings: see ssh_config beside this file.\nall:\n  children:\n")
	half := (len(hosts) + 1) / 2
	for _, g := range []struct {
		name  string
		hosts []labHost
	}{{"web", hosts[:half]}, {"db", hosts[half:]}} {
		if len(g.hosts) == 0 {
			continue
		}
		fmt.Fprintf(&b, "    %s:\n      hosts:\n", g.name)
		for _, h := range g.hosts {
			a := h.srv.Addr()
			fmt.Fprintf(&b, "        %s:\n          ansible_host: %s\n          ansible_port: %d\n", h.name, a.IP, a.Port)
		}
	}
	return []byte(b.String())
}

func printSummary(w io.Writer, hosts []labHost, dir string, maxSessions int) {
	if w == nil {
		return
	}
	first, last := hosts[0], hosts[len(hosts)-1]
	fmt.Fprintf(w, "fleet-lab: %d hosts up (%s..%s), MaxSessions %d, files in %s\n", len(hosts), first.name, last.name, maxSessions, dir)
	// Long labs show their first hosts and the last one.
	const shown = 20
	for i, h := range hosts {
		switch {
		case len(hosts) <= shown || i < shown-1 || i == len(hosts)-1:
			fmt.Fprintf(w, "  %-6s %s\n", h.name, h.srv.Addr())
		case i == shown-1:
			fmt.Fprintf(w, "  ... %d more ...\n", len(hosts)-shown)
		}
	}
	fmt.Fprintf(w, "Try:\n  fleet -i %s --ssh-config %s ping all\n  ssh -F %[2]s %s uname -a\nStop with Ctrl-C (SIGINT) or SIGTERM.\n",
		filepath.Join(dir, "inventory.yml"), filepath.Join(dir, "ssh_config"), first.name)
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	return "root"
}

// writeFileAtomic writes through a temporary file and a rename, so readers
// never see a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("fleet-lab: write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if err := f.Chmod(perm); werr == nil {
		werr = err
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("fleet-lab: write %s: %w", path, werr)
	}
	return nil
}
