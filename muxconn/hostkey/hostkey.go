package hostkey

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"fleetrun.dev/fleet/diag"
)

// Options says which host a Checker verifies and how strictly.
type Options struct {
	// Host is the host name or address connected to (ssh's HostName).
	Host string
	// Port is the server's TCP port; 0 means 22.
	Port int
	// HostKeyAlias, when set, is the name looked up in known_hosts, and
	// written to it, instead of Host. As in OpenSSH it carries no port.
	HostKeyAlias string
	// UserFiles and GlobalFiles are the known_hosts files to search, in
	// order. Missing files count as empty. accept-new adds keys to
	// UserFiles[0].
	UserFiles   []string
	GlobalFiles []string
	// Strict is StrictHostKeyChecking: "yes", "ask" (the same as yes, since
	// fleet never prompts), "accept-new" or "no". Empty means ssh's default,
	// "ask". OpenSSH's synonyms "true", "false" and "off" are accepted too.
	Strict string
	// Hash writes the host name of a key added by accept-new hashed, as
	// OpenSSH's HashKnownHosts does.
	Hash bool
	// Warn, when set, receives what ssh would print as a warning: a changed
	// key accepted because Strict is "no", or a key added by accept-new.
	// It may be called from several goroutines at once.
	Warn func(string)
}

type mode int

const (
	modeYes mode = iota
	modeAcceptNew
	modeNo
)

func parseStrict(s string) (mode, error) {
	switch strings.ToLower(s) {
	case "", "yes", "true", "ask":
		return modeYes, nil
	case "accept-new":
		return modeAcceptNew, nil
	case "no", "false", "off":
		return modeNo, nil
	}
	return 0, &diag.Error{
		Pkg:  "hostkey",
		Msg:  fmt.Sprintf("StrictHostKeyChecking %q is not a known value", s),
		Hint: "use yes, ask, accept-new or no",
	}
}

// DB caches parsed known_hosts files for a run: each distinct list of files
// is read once, however many hosts use it, and keys added by accept-new are
// kept in memory so later connections of the same run accept them. A DB is
// safe for concurrent use. It does not notice changes other programs make to
// the files after they were read, except when it adds a key.
type DB struct {
	mu    sync.Mutex
	sets  map[string]*setEntry
	added map[addedKey][]ssh.PublicKey

	// writeMu serialises accept-new appends within this process; an flock
	// on the file serialises them with other processes.
	writeMu sync.Mutex
}

type setEntry struct {
	once sync.Once
	set  *fileSet
	err  error
}

// addedKey names the keys accept-new added to a file for a known_hosts name.
type addedKey struct{ file, name string }

// NewDB returns an empty DB; files are read when a Checker first needs them.
func NewDB() *DB {
	return &DB{
		sets:  make(map[string]*setEntry),
		added: make(map[addedKey][]ssh.PublicKey),
	}
}

// New returns a Checker with its own DB. Prefer one DB per run and
// DB.Checker when verifying many hosts.
func New(opts Options) (*Checker, error) {
	return NewDB().Checker(opts)
}

// Checker verifies one host's key. It is safe for concurrent use.
type Checker struct {
	db    *DB
	set   *fileSet
	opts  Options
	mode  mode
	files []string // user files, then global files
	host  string   // the host looked up: HostKeyAlias or Host
	port  int      // the port looked up: 22 with HostKeyAlias
	addr  string   // host:port, as the knownhosts packages take it
	name  string   // the known_hosts form: "host" for port 22, else "[host]:port"
}

// Checker returns a Checker for the host in opts, reading its known_hosts
// files unless this DB has read the same list of files before. It fails when
// a file cannot be read or parsed, when Strict is not a known value, or when
// Strict is accept-new and there is no user known_hosts file to add to.
func (db *DB) Checker(opts Options) (*Checker, error) {
	m, err := parseStrict(opts.Strict)
	if err != nil {
		return nil, err
	}
	if m == modeAcceptNew && len(opts.UserFiles) == 0 {
		return nil, &diag.Error{
			Pkg:  "hostkey",
			Msg:  "StrictHostKeyChecking accept-new needs a user known_hosts file to add keys to, but none is set",
			Hint: "set UserKnownHostsFile, or StrictHostKeyChecking yes",
		}
	}
	host, port := opts.Host, opts.Port
	if port == 0 {
		port = 22
	}
	if opts.HostKeyAlias != "" {
		// OpenSSH looks the alias up as written, so an alias spelled as
		// known_hosts spells a host with a port, "[10.0.0.5]:2222", names
		// that entry.
		host, port = opts.HostKeyAlias, 22
		if h, p, err := net.SplitHostPort(opts.HostKeyAlias); err == nil && strings.HasPrefix(opts.HostKeyAlias, "[") {
			if n, err := strconv.Atoi(p); err == nil {
				host, port = h, n
			}
		}
	}
	if host == "" {
		return nil, &diag.Error{Pkg: "hostkey", Msg: "no host name to look up in known_hosts"}
	}
	files := slices.Concat(opts.UserFiles, opts.GlobalFiles)
	set, err := db.fileSet(files)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	return &Checker{
		db:    db,
		set:   set,
		opts:  opts,
		mode:  m,
		files: files,
		host:  host,
		port:  port,
		addr:  addr,
		name:  xknownhosts.Normalize(addr),
	}, nil
}

func (db *DB) fileSet(files []string) (*fileSet, error) {
	key := strings.Join(files, "\x00")
	db.mu.Lock()
	e := db.sets[key]
	if e == nil {
		e = &setEntry{}
		db.sets[key] = e
	}
	db.mu.Unlock()
	e.once.Do(func() { e.set, e.err = loadFileSet(files) })
	return e.set, e.err
}

// remember records that accept-new added key for name to file.
func (db *DB) remember(file, name string, key ssh.PublicKey) {
	db.mu.Lock()
	defer db.mu.Unlock()
	k := addedKey{file, name}
	db.added[k] = append(db.added[k], key)
}

// addedKeys returns the keys accept-new added for name to any of files.
func (db *DB) addedKeys(files []string, name string) []xknownhosts.KnownKey {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out []xknownhosts.KnownKey
	for _, f := range files {
		for _, k := range db.added[addedKey{f, name}] {
			out = append(out, xknownhosts.KnownKey{Key: k, Filename: f})
		}
	}
	return out
}

// Callback returns the ssh.HostKeyCallback for ssh.ClientConfig. It ignores
// the address the ssh package passes and checks the host the Checker was
// made for, so a HostKeyAlias or a connection through a jump host is looked
// up under the right name. Rejections are *Error values; a failure to add a
// key under accept-new is a *diag.Error.
func (c *Checker) Callback() ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		return c.check(key)
	}
}

// Algorithms returns the host key algorithms to put in
// ssh.ClientConfig.HostKeyAlgorithms: those of the keys known_hosts holds
// for the host (certificate algorithms for @cert-authority lines), in file
// and line order. Offering only these makes a server that has several host
// keys present one known_hosts can verify. It returns nil for an unknown
// host; the ssh package's defaults apply then.
func (c *Checker) Algorithms() []string {
	var algos []string
	if c.set.db != nil {
		algos = c.set.db.HostKeyAlgorithms(c.addr)
	}
	for _, k := range c.db.addedKeys(c.files, c.name) {
		for _, a := range keyAlgorithms(k.Key.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// keyAlgorithms returns the signature algorithms a key of type t can serve.
func keyAlgorithms(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

func (c *Checker) check(key ssh.PublicKey) error {
	res := c.verify(key)
	if res.err != nil {
		return res.err
	}
	switch res.kind {
	case 0:
		return nil
	case Changed:
		if c.mode == modeNo {
			// OpenSSH connects too, but without password authentication or
			// forwarding; fleet leaves that choice to the caller.
			c.warn(fmt.Sprintf("WARNING: %s; connecting anyway because StrictHostKeyChecking is no", c.newError(res, key).msg))
			return nil
		}
	case Unknown:
		switch c.mode {
		case modeNo:
			return nil
		case modeAcceptNew:
			return c.acceptNew(res.key, key)
		}
	}
	// Revoked keys are refused in every mode: fleet is stricter here than
	// OpenSSH, which connects to a revoked key under "no".
	return c.newError(res, key)
}

func (c *Checker) warn(msg string) {
	if c.opts.Warn != nil {
		c.opts.Warn(msg)
	}
}

// verify looks key up for the Checker's host, counting keys added earlier
// in this run.
func (c *Checker) verify(key ssh.PublicKey) result {
	res := c.set.verify(c.addr, key, c.db.addedKeys(c.files, c.name))
	// Like OpenSSH, a host on a non-standard port that has no key of this
	// type under [host]:port is also accepted by a matching key recorded
	// for the plain host name.
	if c.opts.HostKeyAlias == "" && c.port != 22 && (res.kind == Unknown || res.otherTypes) {
		if r := c.set.verify(net.JoinHostPort(c.host, "22"), key, nil); r.kind == 0 && r.err == nil {
			return r
		}
	}
	return res
}

// fileSet is a parsed list of known_hosts files.
type fileSet struct {
	files []string              // the files that exist, as read
	db    *knownhosts.HostKeyDB // nil when none of the files exist
}

func loadFileSet(files []string) (*fileSet, error) {
	s := &fileSet{}
	for _, f := range files {
		fi, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue // as ssh does, a missing file holds no keys
		}
		if err == nil && fi.IsDir() {
			err = errors.New("is a directory")
		}
		if err != nil {
			return nil, &diag.Error{Pkg: "hostkey", File: f, Msg: fmt.Sprintf("cannot read known_hosts file: %v", err), Err: err}
		}
		if !slices.Contains(s.files, f) {
			s.files = append(s.files, f)
		}
	}
	if len(s.files) == 0 {
		return s, nil
	}
	db, err := knownhosts.NewDB(s.files...)
	if err != nil {
		// The library's message names the file and line already.
		return nil, &diag.Error{
			Pkg:  "hostkey",
			Msg:  fmt.Sprintf("cannot parse known_hosts: %v", strings.TrimPrefix(err.Error(), "knownhosts: ")),
			Hint: "fix or delete that line (ssh skips lines it cannot parse; fleet refuses to guess)",
			Err:  err,
		}
	}
	s.db = db
	return s, nil
}

// result is what known_hosts says about a key.
type result struct {
	kind       Kind // 0 when the key is accepted
	known      []xknownhosts.KnownKey
	otherTypes bool          // Changed only because the host is known by keys of other types
	certErr    error         // why a host certificate was not accepted
	key        ssh.PublicKey // the key judged: a certificate's plain key once the certificate failed
	err        error         // the lookup itself failed
}

// placeholderRemote stands in for the server address: the knownhosts
// packages insist on a host:port even when they look up the name given, and
// a net.Pipe or jump-host channel has none.
var placeholderRemote = &net.TCPAddr{IP: net.IPv4zero}

func (s *fileSet) callback(addr string, key ssh.PublicKey) error {
	if s.db == nil {
		return &xknownhosts.KeyError{}
	}
	return s.db.HostKeyCallback()(addr, placeholderRemote, key)
}

// verify looks key up for addr; extra holds keys added during this run.
func (s *fileSet) verify(addr string, key ssh.PublicKey, extra []xknownhosts.KnownKey) result {
	res := result{key: key}
	if cert, ok := key.(*ssh.Certificate); ok {
		// The certificate checker reports a revoked CA as a plain error;
		// look both keys up first so revocation gets its own kind.
		for _, k := range []ssh.PublicKey{cert.Key, cert.SignatureKey} {
			var rev *xknownhosts.RevokedError
			if errors.As(s.callback(addr, k), &rev) {
				res.kind, res.known = Revoked, []xknownhosts.KnownKey{rev.Revoked}
				return res
			}
		}
		err := s.callback(addr, cert)
		if err == nil {
			return res
		}
		// As OpenSSH does, judge a certificate that is not accepted by its
		// plain key.
		res.certErr = err
		key = cert.Key
		res.key = key
	}

	var want []xknownhosts.KnownKey
	var rev *xknownhosts.RevokedError
	var kerr *xknownhosts.KeyError
	err := s.callback(addr, key)
	if err == nil && s.matchesOnlyCA(addr, key) {
		// x/crypto's knownhosts also accepts a CA's own key as a plain
		// host key; OpenSSH does not. Look the host's keys up instead.
		err = s.callback(addr, noKey{})
	}
	switch {
	case err == nil:
		return res
	case errors.As(err, &rev):
		res.kind, res.known = Revoked, []xknownhosts.KnownKey{rev.Revoked}
		return res
	case errors.As(err, &kerr):
		want = kerr.Want
	default:
		res.err = fmt.Errorf("hostkey: looking up %s in known_hosts: %w", addr, err)
		return res
	}

	for _, k := range extra {
		if bytes.Equal(k.Key.Marshal(), key.Marshal()) {
			return res
		}
	}
	want = append(want, extra...)

	// @cert-authority lines vouch only for certificates, so, as in
	// OpenSSH, they do not make the host known for a plain key.
	var ca [][]byte
	if s.db != nil {
		for _, k := range s.db.HostKeys(addr) {
			if k.Cert {
				ca = append(ca, k.Marshal())
			}
		}
	}
	var plain, same []xknownhosts.KnownKey
	for _, w := range want {
		if slices.ContainsFunc(ca, func(b []byte) bool { return bytes.Equal(b, w.Key.Marshal()) }) {
			continue
		}
		plain = append(plain, w)
		if w.Key.Type() == key.Type() {
			same = append(same, w)
		}
	}
	switch {
	case len(plain) == 0:
		res.kind = Unknown
	case len(same) > 0:
		res.kind, res.known = Changed, same
	default:
		// OpenSSH calls this a new key (and accept-new would add it); fleet
		// calls it changed, because a host that is known must prove itself
		// with a known key. Algorithms keeps an honest server from getting
		// here.
		res.kind, res.known, res.otherTypes = Changed, plain, true
	}
	return res
}

// matchesOnlyCA reports whether key is known for addr only through
// @cert-authority lines.
func (s *fileSet) matchesOnlyCA(addr string, key ssh.PublicKey) bool {
	if s.db == nil {
		return false
	}
	ca := false
	for _, k := range s.db.HostKeys(addr) {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			if !k.Cert {
				return false
			}
			ca = true
		}
	}
	return ca
}

// noKey matches no known_hosts line, so looking it up yields every key
// known for a host.
type noKey struct{}

func (noKey) Type() string    { return "fleet-no-key" }
func (noKey) Marshal() []byte { return []byte("fleet-no-key") }
func (noKey) Verify(_ []byte, _ *ssh.Signature) error {
	return errors.New("hostkey: noKey cannot verify")
}
