package muxconn

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
)

// frame is a length-prefixed frame with body b.
func frame(b ...byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// msg is a connection protocol message as it goes over a control socket
// in proxy mode: a zero padding length, then the message.
func msg(typ byte, rest ...byte) []byte { return frame(append([]byte{0, typ}, rest...)...) }

// recorder is a net.Conn that keeps what is written to it.
type recorder struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) { return r.buf.Write(p) }

func TestCloseDropper(t *testing.T) {
	hello := frame(0, 0, 0, 1, 0, 0, 0, 4)
	proxy := frame(0x10, 0, 0, 0x0f, 0, 0, 0, 1)
	// A hello whose bytes look like a close must pass: it is the handshake.
	oddHello := frame(0, msgChannelClose, 0, 0)
	open := msg(90, 0, 0, 0, 7, 's', 'e', 's', 's', 'i', 'o', 'n', 0, 0, 0, 0)
	data := msg(94, 0, 0, 0, 1, 0, 0, 0, 3, 'a', 'b', 'c')
	closing := msg(msgChannelClose, 0, 0, 0, 1)
	eof := msg(96, 0, 0, 0, 1)
	empty := frame()
	short := frame(0)

	tests := []struct {
		name     string
		in, want []byte
	}{
		{"handshake only", cat(hello, proxy), cat(hello, proxy)},
		{"handshake frames are never dropped", cat(oddHello, proxy, closing), cat(oddHello, proxy)},
		{"a close is dropped", cat(hello, proxy, open, data, closing, eof), cat(hello, proxy, open, data, eof)},
		{"closes in a row", cat(hello, proxy, closing, closing, data), cat(hello, proxy, data)},
		{"empty and short frames pass", cat(hello, proxy, empty, short, closing, data), cat(hello, proxy, empty, short, data)},
	}
	for _, tt := range tests {
		for _, split := range []int{0, 1, 2, 3, 5, 7} {
			var r recorder
			w := &closeDropper{Conn: &r}
			if split == 0 {
				// As x/crypto writes: a frame per call.
				for rest := tt.in; len(rest) > 0; {
					n := 4 + int(binary.BigEndian.Uint32(rest))
					if k, err := w.Write(rest[:n]); k != n || err != nil {
						t.Fatalf("%s: Write = %d, %v", tt.name, k, err)
					}
					rest = rest[n:]
				}
			} else {
				for rest := tt.in; len(rest) > 0; {
					n := min(split, len(rest))
					if k, err := w.Write(rest[:n]); k != n || err != nil {
						t.Fatalf("%s: Write = %d, %v", tt.name, k, err)
					}
					rest = rest[n:]
				}
			}
			if !bytes.Equal(r.buf.Bytes(), tt.want) {
				t.Errorf("%s, written %d bytes at a time: got\n%x\nwant\n%x", tt.name, split, r.buf.Bytes(), tt.want)
			}
		}
	}
}

// onebyte is a net.Conn that reads r a byte at a time.
type onebyte struct {
	net.Conn
	r *bytes.Reader
}

func (o *onebyte) Read(p []byte) (int, error) { return o.r.Read(p[:min(1, len(p))]) }

// The master's first frame tells fleet's master from OpenSSH's, however
// the reads cut it.
func TestHelloSniffer(t *testing.T) {
	ext := func(names ...string) []byte {
		b := binary.BigEndian.AppendUint32(nil, 1) // MUX_MSG_HELLO
		b = binary.BigEndian.AppendUint32(b, 4)
		for _, n := range names {
			b = binary.BigEndian.AppendUint32(b, uint32(len(n)))
			b = append(b, n...)
			b = binary.BigEndian.AppendUint32(b, 0)
		}
		return frame(b...)
	}
	proxyOK := frame(0x80, 0, 0, 0x0f, 0, 0, 0, 1)
	for _, c := range []struct {
		name  string
		in    []byte
		fleet bool
	}{
		{"OpenSSH's", cat(ext(), proxyOK), false},
		{"fleet's", cat(ext("fleet@fleetrun.dev"), proxyOK), true},
		{"fleet's among others", cat(ext("info", "fleet@fleetrun.dev"), proxyOK), true},
		{"another extension", cat(ext("fleet@example.org"), proxyOK), false},
		{"not a hello", cat(proxyOK, ext("fleet@fleetrun.dev")), false},
		{"cut short", ext("fleet@fleetrun.dev")[:10], false},
	} {
		for _, split := range []bool{false, true} {
			var conn net.Conn = &onebyte{r: bytes.NewReader(c.in)}
			if !split {
				conn = &whole{r: bytes.NewReader(c.in)}
			}
			s := &helloSniffer{Conn: conn}
			buf := make([]byte, 64)
			for {
				if _, err := s.Read(buf); err != nil {
					break
				}
			}
			if got := s.fleetMaster(); got != c.fleet {
				t.Errorf("%s (byte by byte: %v): fleet's master %v, want %v", c.name, split, got, c.fleet)
			}
		}
	}
}

// whole is a net.Conn that reads r as fast as it can.
type whole struct {
	net.Conn
	r *bytes.Reader
}

func (w *whole) Read(p []byte) (int, error) { return w.r.Read(p) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
