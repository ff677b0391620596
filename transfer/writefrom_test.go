package transfer

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pkg/sftp"
)

// pipeSFTP returns a client of a pkg/sftp server on the local file system,
// writing requests of chunk bytes.
func pipeSFTP(t *testing.T, chunk int) *sftp.Client {
	t.Helper()
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{sr, sw})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve()
	}()
	c, err := sftp.NewClientPipe(cr, cw, sftp.UseConcurrentWrites(true), sftp.MaxPacketUnchecked(chunk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range []io.Closer{cr, sw, sr, cw} {
			p.Close()
		}
		c.Close()
		<-done
	})
	return c
}

// writeFrom writes every byte, whether a file fits the small buffer or
// not, and when it grew or shrank since it was listed.
func TestWriteFrom(t *testing.T) {
	c := pipeSFTP(t, 255<<10)
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		size     int // the file's content
		listedAs int // the size the listing gave
	}{
		{"empty", 0, 0},
		{"one byte", 1, 1},
		{"just below", smallFile - 1, smallFile - 1},
		{"exactly", smallFile, smallFile},
		{"just above", smallFile + 1, smallFile + 1},
		{"large", 3<<20 + 7, 3<<20 + 7},
		{"grew small", 40000, 10},
		{"grew past the buffer", 300 << 10, smallFile},
		{"shrank", 5, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			rand.Read(data)
			name := filepath.Join(dir, tc.name)
			f, err := c.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
			if err != nil {
				t.Fatal(err)
			}
			var sent int64
			n, err := writeFrom(f, &sizedReader{ctx: context.Background(), r: bytes.NewReader(data), size: int64(tc.listedAs), sent: func(k int64) { sent += k }})
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(data)) || sent != int64(len(data)) || !bytes.Equal(got, data) {
				t.Errorf("wrote %d (sent %d), file has %d bytes (same: %v); want %d", n, sent, len(got), bytes.Equal(got, data), len(data))
			}
		})
	}
}

// A cancelled push stops reading.
func TestWriteFromCancelled(t *testing.T) {
	c := pipeSFTP(t, 32<<10)
	f, err := c.Create(filepath.Join(t.TempDir(), "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := writeFrom(f, &sizedReader{ctx: ctx, r: bytes.NewReader([]byte("abc")), size: 3}); err == nil {
		t.Error("no error after cancel")
	}
}
