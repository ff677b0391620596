package hostkey

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"fleetrun.dev/fleet/diag"
)

// acceptNew adds key, found unknown, to the first user known_hosts file and
// accepts it. Many connections may get here at once, in this process and in
// other fleet processes: an in-process mutex and an flock on the file
// serialise them, and the file is read again under the lock so that a key
// another process added is not written twice. presented is the key the
// server sent (key, or a certificate for it).
func (c *Checker) acceptNew(key, presented ssh.PublicKey) error {
	db := c.db
	db.writeMu.Lock()
	defer db.writeMu.Unlock()

	// Another connection of this run may have added the host while this
	// one waited for the lock.
	switch res := c.verify(key); {
	case res.err != nil:
		return res.err
	case res.kind == 0:
		return nil
	case res.kind != Unknown:
		return c.newError(res, presented)
	}

	file := c.opts.UserFiles[0]
	fail := func(err error) error {
		return &diag.Error{
			Pkg:  "hostkey",
			File: file,
			Msg:  fmt.Sprintf("cannot add the host key for %s (StrictHostKeyChecking accept-new): %v", c.name, err),
			Hint: "check that the file and its directory are writable, or add the key by hand",
			Err:  err,
		}
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fail(err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	if err := flock(f); err != nil {
		return fail(fmt.Errorf("locking: %w", err))
	}
	// Closing f releases the lock, after the data is synced.

	fresh, err := loadFileSet([]string{file})
	if err != nil {
		return err
	}
	switch res := fresh.verify(c.addr, key, nil); {
	case res.err != nil:
		return res.err
	case res.kind == 0:
		db.remember(file, c.name, key)
		return nil
	case res.kind != Unknown:
		return c.newError(res, presented)
	}

	entry := c.addr
	if c.opts.Hash {
		entry = xknownhosts.HashHostname(xknownhosts.Normalize(c.addr))
	}
	line := xknownhosts.Line([]string{entry}, key) + "\n"
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
			return fail(err)
		}
		if last[0] != '\n' {
			line = "\n" + line
		}
	}
	// One write on an O_APPEND file: a reader never sees half a line.
	if _, err := f.Write([]byte(line)); err != nil {
		return fail(err)
	}
	if fi.Mode().IsRegular() {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	db.remember(file, c.name, key)
	c.warn(fmt.Sprintf("permanently added %s (%s) to %s", c.name, key.Type(), displayPath(file)))
	return nil
}
