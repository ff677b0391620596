package muxconn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// SFTP request sizes. Servers take 32 KiB reads and writes (the draft's
// minimum packet is 34000 bytes), and that is pkg/sftp's default. A server
// that answers OpenSSH's "limits@openssh.com" request says how much more
// it takes: OpenSSH's sftp-server 255 KiB, which spares fleet about a
// quarter of its CPU per byte pushed (200 MiB to 20 real sshd hosts).
const (
	sftpDefaultChunk = 32 << 10
	// sftpMaxChunk caps the chunk whatever the server allows: pkg/sftp
	// takes no packet over 256 KiB, and a read's DATA answer carries the
	// chunk and a few fields. It is what OpenSSH's sftp-server allows.
	sftpMaxChunk = 256<<10 - sftpPacketOverhead
	// sftpInFlight is how much of one file is in flight at once, as 64
	// requests of 32 KiB, pkg/sftp's default; the SSH channel's window is
	// 2 MiB, so more would only wait in buffers.
	sftpInFlight = 2 << 20
	// sftpPacketOverhead is left, below the server's largest packet, for
	// a read or write request's fields around the data.
	sftpPacketOverhead = 1024
)

// SFTP message types and the extension this file speaks.
const (
	sshFxpVersion       = 2
	sshFxpStatus        = 101
	sshFxpExtended      = 200
	sshFxpExtendedReply = 201
	limitsExtension     = "limits@openssh.com"
	// limitsID is the request id of the limits request. It is answered
	// before pkg/sftp sends a request of its own, so it can't collide; a
	// high number keeps even a late answer apart from pkg/sftp's ids,
	// which count from 1.
	limitsID = 0xfffffff0
	// sftpMaxHandshakePacket bounds the packets limitsReader reads whole.
	sftpMaxHandshakePacket = 256 << 10
)

// sftpLimits are a server's answer to limits@openssh.com; 0 means no limit
// was given.
type sftpLimits struct {
	packet, read, write uint64
}

// chunk returns the read and write size to use under l: the server's
// limits, up to sftpMaxChunk, or the default where it gives none. (A
// server that takes less than the default is believed, down to 1 KiB.)
func (l sftpLimits) chunk() int {
	if l.packet == 0 && l.read == 0 && l.write == 0 {
		return sftpDefaultChunk
	}
	c := uint64(sftpMaxChunk)
	if l.packet > 0 {
		c = min(c, l.packet-min(l.packet, sftpPacketOverhead))
	}
	for _, v := range []uint64{l.read, l.write} {
		if v > 0 {
			c = min(c, v)
		}
	}
	if c < 1<<10 {
		return sftpDefaultChunk
	}
	return int(c)
}

// sftpSizing returns the options that set chunk and the requests in flight
// per file to match it.
func sftpSizing(chunk int) []sftp.ClientOption {
	return []sftp.ClientOption{
		sftp.MaxPacketUnchecked(chunk),
		sftp.MaxConcurrentRequestsPerFile(max(1, sftpInFlight/chunk)),
	}
}

// limitsRequest is the SSH_FXP_EXTENDED packet asking for the limits.
func limitsRequest() []byte {
	body := []byte{sshFxpExtended}
	body = binary.BigEndian.AppendUint32(body, limitsID)
	body = binary.BigEndian.AppendUint32(body, uint32(len(limitsExtension)))
	body = append(body, limitsExtension...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// limitsReader sits between the sftp session's output and pkg/sftp. It
// reads the server's first packets whole: it notes whether the VERSION
// packet offers limits@openssh.com, and takes the answer to the limits
// request (by its id) out of the stream, handing it to answer. Every other
// byte passes to pkg/sftp unchanged; from the first packet that is not the
// answer on, it only passes bytes through.
type limitsReader struct {
	r io.Reader

	mu      sync.Mutex
	pending []byte // read from r, not yet passed on
	packets int    // whole packets looked at
	through bool   // looking is over
	offered chan bool
	answer  chan sftpLimits // the answer, or a zero one for a refusal
}

func newLimitsReader(r io.Reader) *limitsReader {
	return &limitsReader{r: r, offered: make(chan bool, 1), answer: make(chan sftpLimits, 1)}
}

func (lr *limitsReader) Read(p []byte) (int, error) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for len(lr.pending) == 0 && !lr.through {
		if err := lr.next(); err != nil {
			lr.stop()
			return 0, err
		}
	}
	if len(lr.pending) > 0 {
		n := copy(p, lr.pending)
		lr.pending = lr.pending[n:]
		return n, nil
	}
	return lr.r.Read(p)
}

// next reads one whole packet and either keeps it for pkg/sftp or, when
// it answers the limits request, takes it.
func (lr *limitsReader) next() error {
	var hdr [4]byte
	if _, err := io.ReadFull(lr.r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > sftpMaxHandshakePacket {
		// Not for us to judge: pkg/sftp reads it and fails as it will.
		lr.pending = hdr[:]
		lr.stop()
		return nil
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(lr.r, body); err != nil {
		return err
	}
	lr.packets++
	if lr.packets == 1 {
		offered := body[0] == sshFxpVersion && offersLimits(body[1:])
		lr.offered <- offered
		if !offered {
			lr.stop()
		}
		lr.pending = append(hdr[:], body...)
		return nil
	}
	if len(body) >= 5 && (body[0] == sshFxpExtendedReply || body[0] == sshFxpStatus) && binary.BigEndian.Uint32(body[1:5]) == limitsID {
		var l sftpLimits
		if body[0] == sshFxpExtendedReply && len(body) >= 5+24 {
			l = sftpLimits{
				packet: binary.BigEndian.Uint64(body[5:]),
				read:   binary.BigEndian.Uint64(body[13:]),
				write:  binary.BigEndian.Uint64(body[21:]),
			}
		}
		lr.answer <- l
		lr.stop()
		return nil
	}
	lr.pending = append(hdr[:], body...)
	lr.stop()
	return nil
}

// stop ends the looking: what follows passes straight through.
func (lr *limitsReader) stop() {
	if lr.through {
		return
	}
	lr.through = true
	if lr.packets == 0 {
		lr.offered <- false
	}
	close(lr.offered)
	close(lr.answer)
}

// offersLimits reports whether a VERSION packet's body (after its type)
// lists limits@openssh.com among its extensions.
func offersLimits(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	b = b[4:] // the version
	for len(b) >= 4 {
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return false
		}
		name := string(b[4 : 4+n])
		b = b[4+n:]
		if len(b) < 4 {
			return false
		}
		m := binary.BigEndian.Uint32(b)
		if uint64(m) > uint64(len(b)-4) {
			return false
		}
		b = b[4+m:]
		if name == limitsExtension {
			return true
		}
	}
	return false
}

// errNoLimits means the server did not answer the limits request.
var errNoLimits = errors.New("muxconn: sftp: no answer to " + limitsExtension)

// askLimits asks the server for its limits, once pkg/sftp's handshake
// through lr is done and before pkg/sftp sends anything else, and returns
// the chunk size to use: the default when the server offers no limits, or
// does not answer before stop or gone is closed or timeout fires.
func askLimits(lr *limitsReader, w io.Writer, stop, gone <-chan struct{}, timeout <-chan time.Time) (int, error) {
	offered, ok := await(lr.offered, stop, gone, timeout)
	if !ok {
		return sftpDefaultChunk, errNoLimits
	}
	if !offered {
		return sftpDefaultChunk, nil
	}
	if _, err := w.Write(limitsRequest()); err != nil {
		return sftpDefaultChunk, fmt.Errorf("muxconn: sftp: asking for %s: %w", limitsExtension, err)
	}
	l, ok := await(lr.answer, stop, gone, timeout)
	if !ok {
		return sftpDefaultChunk, errNoLimits
	}
	return l.chunk(), nil
}

// await receives from ch; ok is false when ch is closed first, or stop or
// gone is closed, or timeout fires.
func await[T any](ch <-chan T, stop, gone <-chan struct{}, timeout <-chan time.Time) (v T, ok bool) {
	select {
	case v, ok = <-ch:
	case <-stop:
	case <-gone:
	case <-timeout:
	}
	return v, ok
}
