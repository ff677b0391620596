package mux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the only mux protocol version OpenSSH speaks, and the only one
// this package accepts.
const Version = 4

// MaxBody is the largest packet body a master accepts, as OpenSSH's; a
// longer packet means a confused or hostile client.
const MaxBody = 256 << 10

// MsgType is the type of a mux message: the first u32 of every packet body.
type MsgType uint32

// Message types of the mux protocol, with OpenSSH's values (mux.c), and two
// of fleet's own for `fleet master status`.
const (
	MsgHello          MsgType = 0x00000001 // MUX_MSG_HELLO
	MsgNewSession     MsgType = 0x10000002 // MUX_C_NEW_SESSION
	MsgAliveCheck     MsgType = 0x10000004 // MUX_C_ALIVE_CHECK
	MsgTerminate      MsgType = 0x10000005 // MUX_C_TERMINATE
	MsgOpenFwd        MsgType = 0x10000006 // MUX_C_OPEN_FWD
	MsgCloseFwd       MsgType = 0x10000007 // MUX_C_CLOSE_FWD
	MsgNewStdioFwd    MsgType = 0x10000008 // MUX_C_NEW_STDIO_FWD
	MsgStopListening  MsgType = 0x10000009 // MUX_C_STOP_LISTENING
	MsgProxy          MsgType = 0x1000000f // MUX_C_PROXY
	MsgExtInfo        MsgType = 0x20000001 // MUX_C_EXT_INFO: in PROTOCOL.mux's table only; no OpenSSH sends it
	MsgOK             MsgType = 0x80000001 // MUX_S_OK
	MsgPermDenied     MsgType = 0x80000002 // MUX_S_PERMISSION_DENIED
	MsgFailure        MsgType = 0x80000003 // MUX_S_FAILURE
	MsgExitMessage    MsgType = 0x80000004 // MUX_S_EXIT_MESSAGE
	MsgAlive          MsgType = 0x80000005 // MUX_S_ALIVE
	MsgSessionOpened  MsgType = 0x80000006 // MUX_S_SESSION_OPENED
	MsgRemotePort     MsgType = 0x80000007 // MUX_S_REMOTE_PORT
	MsgTTYAllocFail   MsgType = 0x80000008 // MUX_S_TTY_ALLOC_FAIL
	MsgProxyOK        MsgType = 0x8000000f // MUX_S_PROXY
	MsgExtInfoReply   MsgType = 0x90000001 // MUX_S_EXT_INFO: in PROTOCOL.mux's table only
	MsgFleetStatus    MsgType = 0x4f4c0001 // fleet's status request; OpenSSH answers it with MUX_S_FAILURE
	MsgFleetStatusRes MsgType = 0x4f4c8001 // fleet's status reply
)

// Forward types of MUX_C_OPEN_FWD and MUX_C_CLOSE_FWD.
const (
	FwdLocal   = 1 // MUX_FWD_LOCAL
	FwdRemote  = 2 // MUX_FWD_REMOTE
	FwdDynamic = 3 // MUX_FWD_DYNAMIC
)

// PortStreamLocal is the port OpenSSH sends (-2 as a u32) when the host
// field of a forward is a unix socket path.
const PortStreamLocal = 0xfffffffe

// NoEscapeChar is NEW_SESSION's escape_char when the client has none.
const NoEscapeChar = 0xffffffff

var msgNames = map[MsgType]string{
	MsgHello:          "MUX_MSG_HELLO",
	MsgNewSession:     "MUX_C_NEW_SESSION",
	MsgAliveCheck:     "MUX_C_ALIVE_CHECK",
	MsgTerminate:      "MUX_C_TERMINATE",
	MsgOpenFwd:        "MUX_C_OPEN_FWD",
	MsgCloseFwd:       "MUX_C_CLOSE_FWD",
	MsgNewStdioFwd:    "MUX_C_NEW_STDIO_FWD",
	MsgStopListening:  "MUX_C_STOP_LISTENING",
	MsgProxy:          "MUX_C_PROXY",
	MsgExtInfo:        "MUX_C_EXT_INFO",
	MsgOK:             "MUX_S_OK",
	MsgPermDenied:     "MUX_S_PERMISSION_DENIED",
	MsgFailure:        "MUX_S_FAILURE",
	MsgExitMessage:    "MUX_S_EXIT_MESSAGE",
	MsgAlive:          "MUX_S_ALIVE",
	MsgSessionOpened:  "MUX_S_SESSION_OPENED",
	MsgRemotePort:     "MUX_S_REMOTE_PORT",
	MsgTTYAllocFail:   "MUX_S_TTY_ALLOC_FAIL",
	MsgProxyOK:        "MUX_S_PROXY",
	MsgExtInfoReply:   "MUX_S_EXT_INFO",
	MsgFleetStatus:    "FLEET_C_STATUS",
	MsgFleetStatusRes: "FLEET_S_STATUS",
}

// String returns OpenSSH's name for t, or its hex value.
func (t MsgType) String() string {
	if n, ok := msgNames[t]; ok {
		return n
	}
	return fmt.Sprintf("mux message 0x%08x", uint32(t))
}

// A Message is one decoded mux message. Encode turns it into a packet body.
type Message interface {
	// Type returns the message's type.
	Type() MsgType
	appendFields(b []byte) []byte
}

// FleetExtension is the HELLO extension by which fleet's master tells its
// clients it is fleet's, not OpenSSH's: fleet's clients then share one
// control connection among their channels, where OpenSSH's master needs
// one per channel (see muxconn's channelClient).
const FleetExtension = "fleet@fleetrun.dev"

// IsFleetHello reports whether body, a packet body, is a HELLO naming
// FleetExtension.
func IsFleetHello(body []byte) bool {
	m, err := Decode(body)
	h, ok := m.(*Hello)
	if err != nil || !ok {
		return false
	}
	for _, e := range h.Extensions {
		if e.Name == FleetExtension {
			return true
		}
	}
	return false
}

// Extension is a name and value pair of a HELLO message.
type Extension struct {
	Name  string
	Value string
}

// Hello is MUX_MSG_HELLO, sent first by both sides.
type Hello struct {
	Version    uint32
	Extensions []Extension
}

// NewSession is MUX_C_NEW_SESSION: run a command (or shell or subsystem)
// on the fds that follow the packet. The flags are u32 on the wire, as the C
// code sends them (PROTOCOL.mux says bool); any non-zero value means yes.
type NewSession struct {
	ID         uint32
	Reserved   string
	WantTTY    uint32
	WantX11    uint32
	WantAgent  uint32
	Subsystem  uint32 // Command names a subsystem ("sftp")
	EscapeChar uint32 // NoEscapeChar when none
	Term       string
	Command    string
	Env        []string // "NAME=value"
}

// NewStdioFwd is MUX_C_NEW_STDIO_FWD (ssh -W): connect the two fds that
// follow the packet to Host:Port. Port is a u32 on the wire (PROTOCOL.mux
// says string); PortStreamLocal means Host is a unix socket path.
type NewStdioFwd struct {
	ID       uint32
	Reserved string
	Host     string
	Port     uint32
}

// AliveCheck is MUX_C_ALIVE_CHECK; the reply is Alive.
type AliveCheck struct{ ID uint32 }

// Terminate is MUX_C_TERMINATE (ssh -O exit).
type Terminate struct{ ID uint32 }

// StopListeningRequest is MUX_C_STOP_LISTENING (ssh -O stop).
type StopListeningRequest struct{ ID uint32 }

// Proxy is MUX_C_PROXY: after the MUX_S_PROXY reply the connection carries
// SSH connection-layer packets.
type Proxy struct{ ID uint32 }

// Forward is the body shared by MUX_C_OPEN_FWD and MUX_C_CLOSE_FWD.
type Forward struct {
	FwdType     uint32 // FwdLocal, FwdRemote or FwdDynamic
	ListenHost  string
	ListenPort  uint32
	ConnectHost string
	ConnectPort uint32
}

// OpenFwd is MUX_C_OPEN_FWD (ssh -O forward, or -L/-R/-D with a master).
type OpenFwd struct {
	ID uint32
	Forward
}

// CloseFwd is MUX_C_CLOSE_FWD (ssh -O cancel).
type CloseFwd struct {
	ID uint32
	Forward
}

// FleetStatus is fleet's own status request. OpenSSH masters answer it
// with MUX_S_FAILURE "unsupported request".
type FleetStatus struct{ ID uint32 }

// OK is MUX_S_OK.
type OK struct{ ID uint32 }

// Failure is MUX_S_FAILURE.
type Failure struct {
	ID     uint32
	Reason string
}

// PermissionDenied is MUX_S_PERMISSION_DENIED.
type PermissionDenied struct {
	ID     uint32
	Reason string
}

// Alive is MUX_S_ALIVE, the reply to AliveCheck.
type Alive struct {
	ID  uint32
	PID uint32
}

// SessionOpened is MUX_S_SESSION_OPENED, the reply to NewSession and
// NewStdioFwd.
type SessionOpened struct {
	ID        uint32
	SessionID uint32
}

// ExitMessage is MUX_S_EXIT_MESSAGE: the session's command exited with
// ExitValue. It carries the session id, not a request id.
type ExitMessage struct {
	SessionID uint32
	ExitValue uint32
}

// TTYAllocFail is MUX_S_TTY_ALLOC_FAIL: the remote refused the pty; the
// client leaves raw mode. It carries the session id.
type TTYAllocFail struct{ SessionID uint32 }

// RemotePort is MUX_S_REMOTE_PORT, the port the server allocated for a
// remote forward. fleet never sends it; it is here for completeness.
type RemotePort struct {
	ID   uint32
	Port uint32
}

// ProxyOK is MUX_S_PROXY, the reply to Proxy.
type ProxyOK struct{ ID uint32 }

// FleetStatusReply is fleet's answer to FleetStatus. Times are Unix
// nanoseconds; LastActive is when the last session ended, or when the
// master started if none has.
type FleetStatusReply struct {
	ID         uint32
	PID        uint32
	Started    uint64
	LastActive uint64
	Active     uint32
}

// Unknown is a message of a type this package does not know. Fields is
// everything after the type.
type Unknown struct {
	MsgType MsgType
	Fields  []byte
}

// RequestID returns the request id that leads every request's fields, or
// false when the message is too short to have one.
func (u *Unknown) RequestID() (uint32, bool) {
	if len(u.Fields) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(u.Fields), true
}

func (*Hello) Type() MsgType                { return MsgHello }
func (*NewSession) Type() MsgType           { return MsgNewSession }
func (*NewStdioFwd) Type() MsgType          { return MsgNewStdioFwd }
func (*AliveCheck) Type() MsgType           { return MsgAliveCheck }
func (*Terminate) Type() MsgType            { return MsgTerminate }
func (*StopListeningRequest) Type() MsgType { return MsgStopListening }
func (*Proxy) Type() MsgType                { return MsgProxy }
func (*OpenFwd) Type() MsgType              { return MsgOpenFwd }
func (*CloseFwd) Type() MsgType             { return MsgCloseFwd }
func (*FleetStatus) Type() MsgType          { return MsgFleetStatus }
func (*OK) Type() MsgType                   { return MsgOK }
func (*Failure) Type() MsgType              { return MsgFailure }
func (*PermissionDenied) Type() MsgType     { return MsgPermDenied }
func (*Alive) Type() MsgType                { return MsgAlive }
func (*SessionOpened) Type() MsgType        { return MsgSessionOpened }
func (*ExitMessage) Type() MsgType          { return MsgExitMessage }
func (*TTYAllocFail) Type() MsgType         { return MsgTTYAllocFail }
func (*RemotePort) Type() MsgType           { return MsgRemotePort }
func (*ProxyOK) Type() MsgType              { return MsgProxyOK }
func (*FleetStatusReply) Type() MsgType     { return MsgFleetStatusRes }

// Type returns the unknown message's type.
func (u *Unknown) Type() MsgType { return u.MsgType }

func appendU32(b []byte, v uint32) []byte    { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte    { return binary.BigEndian.AppendUint64(b, v) }
func appendString(b []byte, s string) []byte { return append(appendU32(b, uint32(len(s))), s...) }

func (m *Hello) appendFields(b []byte) []byte {
	b = appendU32(b, m.Version)
	for _, e := range m.Extensions {
		b = appendString(appendString(b, e.Name), e.Value)
	}
	return b
}

func (m *NewSession) appendFields(b []byte) []byte {
	b = appendString(appendU32(b, m.ID), m.Reserved)
	for _, v := range []uint32{m.WantTTY, m.WantX11, m.WantAgent, m.Subsystem, m.EscapeChar} {
		b = appendU32(b, v)
	}
	b = appendString(appendString(b, m.Term), m.Command)
	for _, e := range m.Env {
		b = appendString(b, e)
	}
	return b
}

func (m *NewStdioFwd) appendFields(b []byte) []byte {
	b = appendString(appendU32(b, m.ID), m.Reserved)
	return appendU32(appendString(b, m.Host), m.Port)
}

func (f *Forward) appendForward(b []byte) []byte {
	b = appendString(appendU32(b, f.FwdType), f.ListenHost)
	b = appendString(appendU32(b, f.ListenPort), f.ConnectHost)
	return appendU32(b, f.ConnectPort)
}

func (m *AliveCheck) appendFields(b []byte) []byte           { return appendU32(b, m.ID) }
func (m *Terminate) appendFields(b []byte) []byte            { return appendU32(b, m.ID) }
func (m *StopListeningRequest) appendFields(b []byte) []byte { return appendU32(b, m.ID) }
func (m *Proxy) appendFields(b []byte) []byte                { return appendU32(b, m.ID) }
func (m *FleetStatus) appendFields(b []byte) []byte          { return appendU32(b, m.ID) }
func (m *OpenFwd) appendFields(b []byte) []byte              { return m.appendForward(appendU32(b, m.ID)) }
func (m *CloseFwd) appendFields(b []byte) []byte             { return m.appendForward(appendU32(b, m.ID)) }
func (m *OK) appendFields(b []byte) []byte                   { return appendU32(b, m.ID) }
func (m *Failure) appendFields(b []byte) []byte              { return appendString(appendU32(b, m.ID), m.Reason) }
func (m *PermissionDenied) appendFields(b []byte) []byte {
	return appendString(appendU32(b, m.ID), m.Reason)
}
func (m *Alive) appendFields(b []byte) []byte { return appendU32(appendU32(b, m.ID), m.PID) }
func (m *SessionOpened) appendFields(b []byte) []byte {
	return appendU32(appendU32(b, m.ID), m.SessionID)
}
func (m *ExitMessage) appendFields(b []byte) []byte {
	return appendU32(appendU32(b, m.SessionID), m.ExitValue)
}
func (m *TTYAllocFail) appendFields(b []byte) []byte { return appendU32(b, m.SessionID) }
func (m *RemotePort) appendFields(b []byte) []byte   { return appendU32(appendU32(b, m.ID), m.Port) }
func (m *ProxyOK) appendFields(b []byte) []byte      { return appendU32(b, m.ID) }
func (m *FleetStatusReply) appendFields(b []byte) []byte {
	b = appendU32(appendU32(b, m.ID), m.PID)
	b = appendU64(appendU64(b, m.Started), m.LastActive)
	return appendU32(b, m.Active)
}
func (m *Unknown) appendFields(b []byte) []byte { return append(b, m.Fields...) }

// Encode returns m's packet body: its type and fields, without the length
// that frames it (see WritePacket).
func Encode(m Message) []byte {
	return m.appendFields(appendU32(make([]byte, 0, 64), uint32(m.Type())))
}

// WritePacket writes m framed as a packet: u32 length, then the body, in one
// Write so that concurrent writers that hold a lock never interleave.
func WritePacket(w io.Writer, m Message) error {
	body := Encode(m)
	if len(body) > MaxBody {
		return fmt.Errorf("mux: %s: the body is %d bytes, over the %d-byte limit", m.Type(), len(body), MaxBody)
	}
	pkt := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(pkt, uint32(len(body)))
	pkt = append(pkt, body...)
	if _, err := w.Write(pkt); err != nil {
		return fmt.Errorf("mux: writing %s: %w", m.Type(), err)
	}
	return nil
}

// ErrClosed is returned by ReadPacket when the peer closed the connection
// cleanly between packets.
var ErrClosed = errors.New("mux: the peer closed the control connection")

// ReadPacket reads one framed packet and returns its body. It reads exactly
// the framed length and nothing after it, so the file descriptors OpenSSH
// passes right after a NEW_SESSION packet stay unread in the socket.
func ReadPacket(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("mux: reading a packet length: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	switch {
	case n > MaxBody:
		return nil, fmt.Errorf("mux: packet length %d is over the %d-byte limit; the peer does not speak the mux protocol", n, MaxBody)
	case n < 4:
		return nil, fmt.Errorf("mux: packet length %d is too short to hold a message type", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("mux: reading a %d-byte packet body: %w", n, err)
	}
	return body, nil
}

// DecodeError reports a malformed message: which message, which field, and
// what was wrong with it.
type DecodeError struct {
	Msg     MsgType
	Field   string
	Problem string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("mux: malformed %s: %s", e.Msg, e.Problem)
	}
	return fmt.Sprintf("mux: malformed %s: %s: %s", e.Msg, e.Field, e.Problem)
}

// fields reads a message's fields in order; the first error sticks, so a
// decoder can read every field and check err once.
type fields struct {
	msg MsgType
	b   []byte
	err error
}

func (f *fields) fail(field, format string, args ...any) {
	if f.err == nil {
		f.err = &DecodeError{Msg: f.msg, Field: field, Problem: fmt.Sprintf(format, args...)}
	}
}

func (f *fields) u32(field string) uint32 {
	if f.err != nil {
		return 0
	}
	if len(f.b) < 4 {
		f.fail(field, "need 4 bytes for a u32, %d left", len(f.b))
		return 0
	}
	v := binary.BigEndian.Uint32(f.b)
	f.b = f.b[4:]
	return v
}

func (f *fields) u64(field string) uint64 {
	hi, lo := f.u32(field), f.u32(field)
	return uint64(hi)<<32 | uint64(lo)
}

// bytes reads an SSH string of any bytes.
func (f *fields) bytes(field string) string {
	n := f.u32(field + " length")
	if f.err != nil {
		return ""
	}
	if uint64(n) > uint64(len(f.b)) {
		f.fail(field, "string length %d is over the %d bytes left", n, len(f.b))
		return ""
	}
	s := string(f.b[:n])
	f.b = f.b[n:]
	return s
}

// cstring reads an SSH string that OpenSSH reads as a C string
// (sshbuf_get_cstring), which may not contain a NUL byte.
func (f *fields) cstring(field string) string {
	s := f.bytes(field)
	if f.err == nil && bytes.IndexByte([]byte(s), 0) >= 0 {
		f.fail(field, "contains a NUL byte")
		return ""
	}
	return s
}

func (f *fields) more() bool { return f.err == nil && len(f.b) > 0 }

func (f *fields) forward() Forward {
	return Forward{
		FwdType:     f.u32("forward type"),
		ListenHost:  f.cstring("listen host"),
		ListenPort:  f.u32("listen port"),
		ConnectHost: f.cstring("connect host"),
		ConnectPort: f.u32("connect port"),
	}
}

// Decode decodes a packet body (as ReadPacket returns it). Messages with a
// list at the end (HELLO's extensions, NEW_SESSION's environment) consume
// the whole body; for the others, bytes after the last field are ignored, as
// mux.c ignores them. A type this package does not know decodes as *Unknown.
func Decode(body []byte) (Message, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("mux: a packet body of %d bytes is too short to hold a message type", len(body))
	}
	t := MsgType(binary.BigEndian.Uint32(body))
	f := &fields{msg: t, b: body[4:]}
	var m Message
	switch t {
	case MsgHello:
		h := &Hello{Version: f.u32("version")}
		for f.more() {
			h.Extensions = append(h.Extensions, Extension{Name: f.cstring("extension name"), Value: f.bytes("extension value")})
		}
		m = h
	case MsgNewSession:
		s := &NewSession{
			ID:         f.u32("request id"),
			Reserved:   f.bytes("reserved"),
			WantTTY:    f.u32("want_tty"),
			WantX11:    f.u32("want_x11"),
			WantAgent:  f.u32("want_agent"),
			Subsystem:  f.u32("subsystem"),
			EscapeChar: f.u32("escape_char"),
			Term:       f.cstring("term"),
			Command:    f.cstring("command"),
		}
		for f.more() {
			s.Env = append(s.Env, f.cstring("environment variable"))
		}
		m = s
	case MsgNewStdioFwd:
		m = &NewStdioFwd{ID: f.u32("request id"), Reserved: f.bytes("reserved"), Host: f.cstring("host"), Port: f.u32("port")}
	case MsgAliveCheck:
		m = &AliveCheck{ID: f.u32("request id")}
	case MsgTerminate:
		m = &Terminate{ID: f.u32("request id")}
	case MsgStopListening:
		m = &StopListeningRequest{ID: f.u32("request id")}
	case MsgProxy:
		m = &Proxy{ID: f.u32("request id")}
	case MsgFleetStatus:
		m = &FleetStatus{ID: f.u32("request id")}
	case MsgOpenFwd:
		m = &OpenFwd{ID: f.u32("request id"), Forward: f.forward()}
	case MsgCloseFwd:
		m = &CloseFwd{ID: f.u32("request id"), Forward: f.forward()}
	case MsgOK:
		m = &OK{ID: f.u32("request id")}
	case MsgFailure:
		m = &Failure{ID: f.u32("request id"), Reason: f.cstring("reason")}
	case MsgPermDenied:
		m = &PermissionDenied{ID: f.u32("request id"), Reason: f.cstring("reason")}
	case MsgAlive:
		m = &Alive{ID: f.u32("request id"), PID: f.u32("pid")}
	case MsgSessionOpened:
		m = &SessionOpened{ID: f.u32("request id"), SessionID: f.u32("session id")}
	case MsgExitMessage:
		m = &ExitMessage{SessionID: f.u32("session id"), ExitValue: f.u32("exit value")}
	case MsgTTYAllocFail:
		m = &TTYAllocFail{SessionID: f.u32("session id")}
	case MsgRemotePort:
		m = &RemotePort{ID: f.u32("request id"), Port: f.u32("port")}
	case MsgProxyOK:
		m = &ProxyOK{ID: f.u32("request id")}
	case MsgFleetStatusRes:
		m = &FleetStatusReply{
			ID:         f.u32("request id"),
			PID:        f.u32("pid"),
			Started:    f.u64("start time"),
			LastActive: f.u64("last-active time"),
			Active:     f.u32("active sessions"),
		}
	default:
		return &Unknown{MsgType: t, Fields: bytes.Clone(body[4:])}, nil
	}
	if f.err != nil {
		return nil, f.err
	}
	return m, nil
}
