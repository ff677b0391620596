package sshdtest

import (
	"errors"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pkg/sftp"
)

func TestSFTPSubsystem(t *testing.T) {
	dir := t.TempDir()
	wrapper := filepath.Join(dir, limitWrapperName)
	for _, tc := range []struct {
		name       string
		opts       Options
		wantLine   string // the Subsystem line, or "" for none
		wantScript []string
		wantErr    string
	}{
		{name: "default", opts: Options{}, wantLine: "Subsystem sftp " + sftpServer()},
		{name: "none", opts: Options{SFTP: "none"}},
		{name: "verbatim", opts: Options{SFTP: "internal-sftp -l DEBUG3"}, wantLine: "Subsystem sftp internal-sftp -l DEBUG3"},
		{
			name:       "limited",
			opts:       Options{SFTP: "/bin/sftp-server -l INFO", FileSizeLimitKB: 64},
			wantLine:   "Subsystem sftp " + wrapper,
			wantScript: []string{"#!/bin/sh\n", "\ntrap '' XFSZ\n", "\nulimit -f 128 ", "\nexec /bin/sftp-server -l INFO\n"},
		},
		{name: "negative limit", opts: Options{FileSizeLimitKB: -1}, wantErr: "positive number"},
		{name: "none with limit", opts: Options{SFTP: "none", FileSizeLimitKB: 1}, wantErr: "contradict"},
		{name: "internal with limit", opts: Options{SFTP: "internal-sftp", FileSizeLimitKB: 1}, wantErr: "runs inside sshd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(wrapper)
			cmd, err := sftpSubsystem(dir, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("sftpSubsystem: got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			config := configTemplate{sftp: cmd}.render("127.1.2.3", 22)
			var got []string
			for line := range strings.Lines(config) {
				if strings.HasPrefix(line, "Subsystem") {
					got = append(got, strings.TrimSuffix(line, "\n"))
				}
			}
			if want := []string{tc.wantLine}; tc.wantLine == "" && len(got) != 0 || tc.wantLine != "" && strings.Join(got, "|") != tc.wantLine {
				t.Errorf("Subsystem lines %q, want %q", got, want)
			}
			script, err := os.ReadFile(wrapper)
			if len(tc.wantScript) == 0 {
				if err == nil {
					t.Errorf("wrote a wrapper script without a file size limit:\n%s", script)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.wantScript {
				if !strings.Contains(string(script), want) {
					t.Errorf("wrapper script lacks %q:\n%s", want, script)
				}
			}
			if fi, err := os.Stat(wrapper); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("wrapper script: %v, %v; want mode 0755 so the login user can run it", fi.Mode(), err)
			}
		})
	}
}

func TestSFTPNone(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{SFTP: "none"})
	c, err := sftp.NewClient(dial(t, s))
	if err == nil {
		c.Close()
		t.Fatal("started an sftp session on a server without the sftp subsystem")
	}
}

// TestFileSizeLimit writes through the real sftp-server and checks that the
// limit holds to the byte and that a write past it fails without ending
// the sftp session.
func TestFileSizeLimit(t *testing.T) {
	t.Parallel()
	const limitKB = 64
	const limit = limitKB * 1024
	s := Start(t, Options{FileSizeLimitKB: limitKB})
	c, err := sftp.NewClient(dial(t, s))
	if err != nil {
		t.Fatalf("sftp: %v\nsshd log:\n%s", err, s.Log())
	}
	defer c.Close()
	scratch := scratchDir(t, s)

	for i, tc := range []struct {
		name   string
		chunks []int // sizes of successive Write calls
		ok     bool
	}{
		{"small", []int{1000}, true},
		{"exactly the limit", []int{limit}, true},
		{"one byte past", []int{limit + 1}, false},
		// The second Write's last packet starts below the limit and ends past it.
		{"packet across the limit", []int{1000, limit}, false},
		{"far past", []int{4 * limit}, false},
	} {
		name := path.Join(scratch, strconv.Itoa(i))
		err := writeChunks(c, name, tc.chunks)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var status *sftp.StatusError
		if !errors.As(err, &status) || status.FxCode() != sftp.ErrSSHFxFailure {
			t.Errorf("%s: got error %v, want SSH_FX_FAILURE", tc.name, err)
		}
		if fi, err := c.Stat(name); err != nil || fi.Size() > limit {
			t.Errorf("%s: the file past the limit: %v, %v; want at most %d bytes", tc.name, fi, err, limit)
		}
		// sftp-server was not killed: the same session writes again.
		if err := writeChunks(c, name+"-after", []int{10}); err != nil {
			t.Errorf("%s: a small write afterwards: %v", tc.name, err)
		}
	}
}

// writeChunks writes a file of zeros with one Write call per chunk size.
func writeChunks(c *sftp.Client, name string, chunks []int) error {
	f, err := c.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	for _, n := range chunks {
		if _, err := f.Write(make([]byte, n)); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// scratchDir returns a directory the login user may write, inside the
// server's directory, so it goes when the test ends.
func scratchDir(t *testing.T, s *Server) string {
	t.Helper()
	dir := filepath.Join(s.Dir(), "scratch")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(s.User())
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
