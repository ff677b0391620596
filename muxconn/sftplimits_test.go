package muxconn

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// sftpPacket frames an SFTP packet of type typ with body.
func sftpPacket(typ byte, body ...[]byte) []byte {
	b := []byte{typ}
	for _, p := range body {
		b = append(b, p...)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

func u32(v uint32) []byte  { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte  { return binary.BigEndian.AppendUint64(nil, v) }
func sstr(s string) []byte { return append(u32(uint32(len(s))), s...) }

func versionPacket(exts ...string) []byte {
	body := [][]byte{u32(3)}
	for _, e := range exts {
		body = append(body, sstr(e), sstr("1"))
	}
	return sftpPacket(sshFxpVersion, body...)
}

func limitsReply(id uint32, packet, read, write uint64) []byte {
	return sftpPacket(sshFxpExtendedReply, u32(id), u64(packet), u64(read), u64(write), u64(0))
}

// What the server sends reaches pkg/sftp unchanged, but for the answer to
// the limits request, which askLimits gets.
func TestLimitsReader(t *testing.T) {
	openssh := versionPacket("posix-rename@openssh.com", limitsExtension, "fsync@openssh.com")
	handle := sftpPacket(102, u32(1), sstr("h1")) // SSH_FXP_HANDLE for pkg/sftp's request 1
	for _, c := range []struct {
		name   string
		stream [][]byte
		pass   []int // which of stream's packets pkg/sftp gets
		chunk  int
		asked  bool
	}{
		{"no extensions", [][]byte{versionPacket(), handle}, []int{0, 1}, sftpDefaultChunk, false},
		{"other extensions", [][]byte{versionPacket("posix-rename@openssh.com"), handle}, []int{0, 1}, sftpDefaultChunk, false},
		{"openssh", [][]byte{openssh, limitsReply(limitsID, 256<<10, 255<<10, 255<<10), handle}, []int{0, 2}, 255 << 10, true},
		{"smaller write", [][]byte{openssh, limitsReply(limitsID, 256<<10, 255<<10, 64<<10), handle}, []int{0, 2}, 64 << 10, true},
		{"larger than fleet takes", [][]byte{openssh, limitsReply(limitsID, 4<<20, 4<<20, 4<<20), handle}, []int{0, 2}, sftpMaxChunk, true},
		{"below the default", [][]byte{openssh, limitsReply(limitsID, 34000, 8<<10, 8<<10), handle}, []int{0, 2}, 8 << 10, true},
		{"absurd", [][]byte{openssh, limitsReply(limitsID, 100, 10, 10), handle}, []int{0, 2}, sftpDefaultChunk, true},
		{"no limits given", [][]byte{openssh, limitsReply(limitsID, 0, 0, 0), handle}, []int{0, 2}, sftpDefaultChunk, true},
		{"only a packet limit", [][]byte{openssh, limitsReply(limitsID, 128<<10, 0, 0), handle}, []int{0, 2}, 127 << 10, true},
		{"refused", [][]byte{openssh, sftpPacket(sshFxpStatus, u32(limitsID), u32(8), sstr("unsupported"), sstr("")), handle}, []int{0, 2}, sftpDefaultChunk, true},
		{"another answer", [][]byte{openssh, handle}, []int{0, 1}, sftpDefaultChunk, true},
		{"short reply", [][]byte{openssh, sftpPacket(sshFxpExtendedReply, u32(limitsID)), handle}, []int{0, 2}, sftpDefaultChunk, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			lr := newLimitsReader(bytes.NewReader(bytes.Join(c.stream, nil)))
			var want bytes.Buffer
			for _, i := range c.pass {
				want.Write(c.stream[i])
			}
			// pkg/sftp reads the VERSION packet, then its receive loop
			// reads on while askLimits waits for the answer.
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(iotestOneByte(lr))
				got <- b
			}()
			var sent bytes.Buffer
			chunk, err := askLimits(lr, &sent, nil, nil, time.After(time.Minute))
			if err != nil && err != errNoLimits {
				t.Fatal(err)
			}
			if chunk != c.chunk {
				t.Errorf("chunk %d, want %d", chunk, c.chunk)
			}
			if asked := sent.Len() > 0; asked != c.asked {
				t.Errorf("asked %v, want %v", asked, c.asked)
			} else if asked && !bytes.Equal(sent.Bytes(), sftpPacket(sshFxpExtended, u32(limitsID), sstr(limitsExtension))) {
				t.Errorf("request %x", sent.Bytes())
			}
			if b := <-got; !bytes.Equal(b, want.Bytes()) {
				t.Errorf("pkg/sftp got %x\nwant %x", b, want.Bytes())
			}
		})
	}
}

// iotestOneByte reads r a byte at a time, as a caller with a tiny buffer
// would.
func iotestOneByte(r io.Reader) io.Reader { return oneByteReader{r} }

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// A stream that ends or breaks early still reaches the reader's caller,
// and askLimits does not wait for an answer that can't come.
func TestLimitsReaderBrokenStreams(t *testing.T) {
	openssh := versionPacket(limitsExtension)
	for _, s := range [][]byte{
		nil,
		openssh[:3],
		openssh[:10],
		append(u32(1<<30), 1, 2, 3),
		u32(0),
		append(append([]byte{}, openssh...), limitsReply(limitsID, 1, 2, 3)[:9]...),
	} {
		lr := newLimitsReader(bytes.NewReader(s))
		done := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(lr)
			done <- b
		}()
		chunk, _ := askLimits(lr, io.Discard, nil, nil, time.After(time.Minute))
		if chunk != sftpDefaultChunk {
			t.Errorf("%x: chunk %d", s, chunk)
		}
		<-done
	}
}

func FuzzLimitsReader(f *testing.F) {
	f.Add(versionPacket(limitsExtension), limitsReply(limitsID, 256<<10, 255<<10, 255<<10))
	f.Add(versionPacket("a", "b"), []byte{})
	f.Add([]byte{0, 0, 0, 1, 2}, []byte{0, 0, 0, 5, 201, 0xff, 0xff, 0xff, 0xf0})
	f.Fuzz(func(t *testing.T, first, rest []byte) {
		stream := append(append([]byte{}, first...), rest...)
		lr := newLimitsReader(bytes.NewReader(stream))
		done := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(lr)
			done <- b
		}()
		chunk, _ := askLimits(lr, io.Discard, nil, nil, time.After(10*time.Second))
		if chunk < 1<<10 || chunk > sftpMaxChunk {
			t.Fatalf("chunk %d", chunk)
		}
		got := <-done
		// Nothing is invented: what passes is the stream with at most
		// one packet taken out.
		if len(got) > len(stream) {
			t.Fatalf("passed %d bytes of %d", len(got), len(stream))
		}
		if !bytes.Equal(got, stream) {
			cut := 0
			for cut < len(got) && got[cut] == stream[cut] {
				cut++
			}
			if !bytes.Equal(got[cut:], stream[len(stream)-(len(got)-cut):]) {
				t.Fatalf("passed bytes other than the stream's")
			}
		}
	})
}

// fakeLimitsServer is a minimal SFTP v3 server on r and w: it offers
// limits@openssh.com, answers it with the given limits, and serves every
// READ in full, as a server that takes large requests does.
func fakeLimitsServer(r io.Reader, w io.Writer, packet, read, write uint64) {
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		typ, rest := body[0], body[1:]
		if typ == 1 { // INIT
			w.Write(versionPacket(limitsExtension))
			continue
		}
		id := binary.BigEndian.Uint32(rest)
		switch typ {
		case sshFxpExtended:
			w.Write(limitsReply(id, packet, read, write))
		case 3: // OPEN
			w.Write(sftpPacket(102, u32(id), sstr("h")))
		case 5: // READ: id, handle, offset, length
			hl := binary.BigEndian.Uint32(rest[4:])
			n := binary.BigEndian.Uint32(rest[8+hl+8:])
			w.Write(sftpPacket(103, u32(id), u32(n), make([]byte, n)))
		default:
			w.Write(sftpPacket(sshFxpStatus, u32(id), u32(0), sstr(""), sstr("")))
		}
	}
}

// A read of a whole chunk comes back, whatever the server allows: the
// answer to a 256 KiB read would exceed the largest packet pkg/sftp takes
// (256 KiB), which ends the session. (Found in review: AsyncSSH, for one,
// allows 4 MiB.)
func TestLimitsChunkReadsBack(t *testing.T) {
	for _, lim := range []uint64{255 << 10, 256 << 10, 4 << 20} {
		cr, sw := io.Pipe()
		sr, cw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			fakeLimitsServer(sr, sw, lim+1024, lim, lim)
		}()
		lr := newLimitsReader(cr)
		c, err := sftp.NewClientPipe(lr, cw)
		if err != nil {
			t.Fatal(err)
		}
		chunk, err := askLimits(lr, cw, nil, nil, time.After(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range sftpSizing(chunk) {
			if err := o(c); err != nil {
				t.Fatal(err)
			}
		}
		f, err := c.Open("x")
		if err != nil {
			t.Fatal(err)
		}
		n, err := f.Read(make([]byte, chunk))
		if n != chunk || (err != nil && err != io.EOF) {
			t.Errorf("server limits %d: chunk %d: read %d bytes, %v", lim, chunk, n, err)
		}
		for _, p := range []io.Closer{cr, sw, sr, cw} {
			p.Close()
		}
		c.Close()
		<-done
	}
}
