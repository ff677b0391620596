package muxconn_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/internal/sshdtest"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/muxconn/target"
)

// sshdTarget returns the settings that reach a real sshd.
func sshdTarget(t *testing.T, s *sshdtest.Server) *target.Target {
	kh := filepath.Join(t.TempDir(), "known_hosts")
	s.WriteKnownHosts(kh)
	return &target.Target{
		Alias: "sshd", HostName: s.Addr(), Port: s.Port(), User: s.User(),
		IdentityFiles:         []string{sshdtest.ClientKeyPath()},
		UserKnownHostsFiles:   []string{kh},
		StrictHostKeyChecking: "yes",
		ConnectTimeout:        10 * time.Second,
		MaxSessions:           10,
	}
}

// openSFTP opens an SFTP session on tg's master from p, closed (and the
// master released) at the end of the test.
func openSFTP(t *testing.T, ctx context.Context, p *muxconn.Pool, tg *target.Target) *muxconn.SFTP {
	t.Helper()
	m, err := p.Get(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := m.SFTP(ctx)
	if err != nil {
		m.Release()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fs.Close()
		m.Release()
	})
	return fs
}

// OpenSSH's sftp-server (and internal-sftp) answer limits@openssh.com with
// 255 KiB reads and writes; files go and come back whole in requests that
// large. (The in-process lab host's pkg/sftp server offers no limits: 32
// KiB, TestSFTPDefaultChunk.)
func TestSSHDSFTPChunk(t *testing.T) {
	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	for _, sub := range []string{"", "internal-sftp"} {
		t.Run("subsystem="+sub, func(t *testing.T) {
			srv := sshdtest.Start(t, sshdtest.Options{SFTP: sub})
			ctx := testCtx(t)
			p := newPool(t, nil)
			fs := openSFTP(t, ctx, p, sshdTarget(t, srv))
			if got := fs.Chunk(); got != 255<<10 {
				t.Errorf("chunk %d, want %d (OpenSSH's max-write-length)", got, 255<<10)
			}
			dir, err := fs.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			name := dir + "/chunk-test"
			f, err := fs.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			g, err := fs.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			var back bytes.Buffer
			if _, err := g.WriteTo(&back); err != nil {
				t.Fatal(err)
			}
			g.Close()
			fs.Remove(name)
			if !bytes.Equal(back.Bytes(), data) {
				t.Errorf("read back %d bytes that differ from the %d written", back.Len(), len(data))
			}
		})
	}
}

// A connection asks for the limits once: later SFTP sessions on it (play
// opens one per copy or template task) reuse the answer rather than pay a
// round trip for it. The subsystem here copies what it reads to a file.
func TestSSHDSFTPAsksLimitsOnce(t *testing.T) {
	server := sshdtest.SFTPServer()
	if server == "internal-sftp" {
		t.Skip("no sftp-server binary to wrap")
	}
	// The login user (not the test's) runs the wrapper and writes its copy.
	dir, err := os.MkdirTemp("", "fleet-sftp-tee-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	in, wrapper := filepath.Join(dir, "in"), filepath.Join(dir, "sftp-tee")
	script := "#!/bin/sh\ntee -a " + in + " | exec " + server + "\n"
	for _, err := range []error{
		os.Chmod(dir, 0o755),
		os.WriteFile(in, nil, 0o666), os.Chmod(in, 0o666),
		os.WriteFile(wrapper, []byte(script), 0o755),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := sshdtest.Start(t, sshdtest.Options{SFTP: wrapper})

	ctx := testCtx(t)
	p := newPool(t, nil)
	m, err := p.Get(ctx, sshdTarget(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	for i := range 3 {
		fs, err := m.SFTP(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := fs.Chunk(); got != 255<<10 {
			t.Errorf("session %d: chunk %d, want %d", i, got, 255<<10)
		}
		if _, err := fs.Getwd(); err != nil {
			t.Errorf("session %d: %v", i, err)
		}
		fs.Close()
	}
	// sftp-server has read all a session sent once it ends, and Close
	// waits for it to end; tee may write a moment later.
	var got []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err = os.ReadFile(in)
		if bytes.Count(got, sftpInit) >= 3 || err != nil || time.Now().After(deadline) {
			break
		}
	}
	if n := bytes.Count(got, sftpInit); n != 3 {
		t.Fatalf("the wrapper copied %d SFTP handshakes (%d bytes, %v), want 3", n, len(got), err)
	}
	if n := bytes.Count(got, []byte("limits@openssh.com")); n != 1 {
		t.Errorf("the server was asked for its limits %d times over 3 sessions, want 1", n)
	}
}

// sftpInit is an SSH_FXP_INIT packet for version 3, as pkg/sftp sends it.
var sftpInit = []byte{0, 0, 0, 5, 1, 0, 0, 0, 3}

// A server that offers no limits (here pkg/sftp's, in the lab host) gets
// 32 KiB requests, which every server takes.
func TestSFTPDefaultChunk(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	ctx := testCtx(t)
	fs := openSFTP(t, ctx, l.pool(t, nil), l.target(0))
	if got := fs.Chunk(); got != 32<<10 {
		t.Errorf("chunk %d, want 32 KiB", got)
	}
	if _, err := fs.Getwd(); err != nil {
		t.Errorf("the session after the handshake: %v", err)
	}
}
