package mux

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// be builds wire bytes from u32s, strings (as SSH strings) and raw []byte.
func be(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case uint32:
			b = binary.BigEndian.AppendUint32(b, v)
		case MsgType:
			b = binary.BigEndian.AppendUint32(b, uint32(v))
		case int:
			b = binary.BigEndian.AppendUint32(b, uint32(v))
		case rune:
			b = binary.BigEndian.AppendUint32(b, uint32(v))
		case string:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		default:
			panic("be: unsupported part")
		}
	}
	return b
}

// TestWireFormat pins every message to the bytes mux.c reads and writes.
func TestWireFormat(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		wire []byte
	}{
		{"hello", &Hello{Version: 4}, be(MsgHello, 4)},
		{"hello with extensions", &Hello{Version: 4, Extensions: []Extension{{"info", "0"}, {"x", ""}}},
			be(MsgHello, 4, "info", "0", "x", "")},
		{"new session as ssh sends it", &NewSession{ID: 1, WantTTY: 0, WantX11: 0, WantAgent: 0, Subsystem: 1,
			EscapeChar: NoEscapeChar, Term: "xterm", Command: "sftp", Env: []string{"LANG=C", "A=b=c"}},
			be(MsgNewSession, 1, "", 0, 0, 0, 1, uint32(0xffffffff), "xterm", "sftp", "LANG=C", "A=b=c")},
		{"new session, no env", &NewSession{ID: 7, Reserved: "r", WantTTY: 1, EscapeChar: '~', Command: "echo ok"},
			be(MsgNewSession, 7, "r", 1, 0, 0, 0, '~', "", "echo ok")},
		{"stdio forward", &NewStdioFwd{ID: 1, Host: "10.0.0.1", Port: 22}, be(MsgNewStdioFwd, 1, "", "10.0.0.1", 22)},
		{"stdio forward to a path", &NewStdioFwd{ID: 1, Host: "/run/s", Port: PortStreamLocal}, be(MsgNewStdioFwd, 1, "", "/run/s", uint32(0xfffffffe))},
		{"alive check", &AliveCheck{ID: 0}, be(MsgAliveCheck, 0)},
		{"terminate", &Terminate{ID: 3}, be(MsgTerminate, 3)},
		{"stop listening", &StopListeningRequest{ID: 2}, be(MsgStopListening, 2)},
		{"proxy", &Proxy{ID: 1}, be(MsgProxy, 1)},
		{"open forward", &OpenFwd{ID: 1, Forward: Forward{FwdLocal, "", 8080, "localhost", 80}},
			be(MsgOpenFwd, 1, FwdLocal, "", 8080, "localhost", 80)},
		{"close forward", &CloseFwd{ID: 2, Forward: Forward{FwdDynamic, "*", 1080, "", 0}},
			be(MsgCloseFwd, 2, FwdDynamic, "*", 1080, "", 0)},
		{"fleet status", &FleetStatus{ID: 0}, be(MsgFleetStatus, 0)},
		{"ok", &OK{ID: 5}, be(MsgOK, 5)},
		{"failure", &Failure{ID: 5, Reason: "unsupported request"}, be(MsgFailure, 5, "unsupported request")},
		{"permission denied", &PermissionDenied{ID: 5, Reason: "no"}, be(MsgPermDenied, 5, "no")},
		{"alive", &Alive{ID: 0, PID: 4242}, be(MsgAlive, 0, 4242)},
		{"session opened", &SessionOpened{ID: 1, SessionID: 9}, be(MsgSessionOpened, 1, 9)},
		{"exit message", &ExitMessage{SessionID: 9, ExitValue: 3}, be(MsgExitMessage, 9, 3)},
		{"tty alloc fail", &TTYAllocFail{SessionID: 9}, be(MsgTTYAllocFail, 9)},
		{"remote port", &RemotePort{ID: 1, Port: 40000}, be(MsgRemotePort, 1, 40000)},
		{"proxy reply", &ProxyOK{ID: 1}, be(MsgProxyOK, 1)},
		{"fleet status reply", &FleetStatusReply{ID: 0, PID: 7, Started: 1<<40 + 5, LastActive: 1<<41 + 6, Active: 2},
			be(MsgFleetStatusRes, 0, 7, 1<<8, 5, 1<<9, 6, 2)},
		{"unknown", &Unknown{MsgType: 0x10000099, Fields: be(4, "x")}, be(uint32(0x10000099), 4, "x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Encode(tt.msg); !bytes.Equal(got, tt.wire) {
				t.Errorf("Encode:\n got %s\nwant %s", hex.EncodeToString(got), hex.EncodeToString(tt.wire))
			}
			got, err := Decode(tt.wire)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.msg) {
				t.Errorf("Decode = %#v, want %#v", got, tt.msg)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want string // every part must appear in the error
	}{
		{"no type", []byte{0, 0}, "too short to hold a message type"},
		{"alive check without id", be(MsgAliveCheck), "MUX_C_ALIVE_CHECK: request id: need 4 bytes"},
		{"session cut in the flags", be(MsgNewSession, 1, "", 0, 0), "MUX_C_NEW_SESSION: want_agent: need 4 bytes"},
		{"session with a NUL in the command", be(MsgNewSession, 1, "", 0, 0, 0, 0, 0, "", "a\x00b"), "MUX_C_NEW_SESSION: command: contains a NUL byte"},
		{"session with an overlong term", be(MsgNewSession, 1, "", 0, 0, 0, 0, 0, uint32(1000), []byte("ab")), "MUX_C_NEW_SESSION: term: string length 1000 is over the 2 bytes left"},
		{"session with a cut env string", be(MsgNewSession, 1, "", 0, 0, 0, 0, 0, "", "", []byte{0, 0}), "MUX_C_NEW_SESSION: environment variable length: need 4 bytes"},
		{"stdio forward without port", be(MsgNewStdioFwd, 1, "", "host"), "MUX_C_NEW_STDIO_FWD: port: need 4 bytes"},
		{"hello with half an extension", be(MsgHello, 4, "name"), "MUX_MSG_HELLO: extension value length"},
		{"failure without reason", be(MsgFailure, 1), "MUX_S_FAILURE: reason length"},
		{"open forward cut", be(MsgOpenFwd, 1, FwdLocal, "", 80), "MUX_C_OPEN_FWD: connect host length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.wire)
			if err == nil {
				t.Fatalf("Decode = %#v, want an error", m)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDecodeIgnoresTrailingBytes(t *testing.T) {
	// mux.c reads the fields it knows and ignores the rest.
	m, err := Decode(be(MsgAliveCheck, 3, "future field"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, &AliveCheck{ID: 3}) {
		t.Errorf("Decode = %#v", m)
	}
}

func TestReadPacket(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr string
	}{
		{"one packet", be(string(be(MsgOK, 1))), be(MsgOK, 1), ""},
		{"stops at the end of the packet", append(be(string(be(MsgOK, 1))), 0xde, 0xad), be(MsgOK, 1), ""},
		{"at the limit", append(be(MaxBody), make([]byte, MaxBody)...), make([]byte, MaxBody), ""},
		{"over the limit", be(MaxBody + 1), nil, "over the 262144-byte limit"},
		{"too short for a type", be(2, []byte{1, 2}), nil, "too short"},
		{"clean EOF", nil, nil, "closed the control connection"},
		{"cut header", []byte{0, 0}, nil, "reading a packet length"},
		{"cut body", be(8, []byte{1, 2, 3}), nil, "reading a 8-byte packet body: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(tt.in)
			got, err := ReadPacket(r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadPacket error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("ReadPacket = %x, want %x", got, tt.want)
			}
			if left := len(tt.in) - 4 - len(tt.want); r.Len() != left {
				t.Errorf("ReadPacket left %d bytes unread, want %d", r.Len(), left)
			}
		})
	}
	if _, err := ReadPacket(bytes.NewReader(nil)); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadPacket at EOF = %v, want ErrClosed", err)
	}
}

func TestWritePacketFrames(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePacket(&buf, &Failure{ID: 1, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	want := be(string(be(MsgFailure, 1, "x")))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("WritePacket wrote %x, want %x", buf.Bytes(), want)
	}
	if err := WritePacket(&buf, &Failure{Reason: strings.Repeat("x", MaxBody)}); err == nil {
		t.Error("WritePacket of an oversized body succeeded")
	}
}

func TestMsgTypeString(t *testing.T) {
	if got := MsgNewSession.String(); got != "MUX_C_NEW_SESSION" {
		t.Errorf("String = %q", got)
	}
	if got := MsgType(0x12345678).String(); got != "mux message 0x12345678" {
		t.Errorf("String = %q", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range []Message{
		&Hello{Version: 4, Extensions: []Extension{{"info", "0"}}},
		&NewSession{ID: 1, Subsystem: 1, EscapeChar: NoEscapeChar, Term: "xterm", Command: "sftp", Env: []string{"A=b"}},
		&NewStdioFwd{ID: 1, Host: "h", Port: 22},
		&AliveCheck{}, &Terminate{ID: 1}, &StopListeningRequest{}, &Proxy{}, &FleetStatus{},
		&OpenFwd{ID: 1, Forward: Forward{FwdRemote, "", 0, "h", 22}}, &CloseFwd{},
		&OK{}, &Failure{Reason: "r"}, &PermissionDenied{Reason: "d"}, &Alive{PID: 1},
		&SessionOpened{SessionID: 2}, &ExitMessage{ExitValue: 255}, &TTYAllocFail{}, &RemotePort{Port: 1},
		&ProxyOK{}, &FleetStatusReply{Active: 1}, &Unknown{MsgType: 0x10000099, Fields: []byte{0, 0, 0, 1}},
	} {
		f.Add(Encode(m))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(body)
		if err != nil {
			var de *DecodeError
			if len(body) >= 4 && !errors.As(err, &de) {
				t.Fatalf("Decode error %v is not a *DecodeError", err)
			}
			return
		}
		enc := Encode(m)
		// Every field is kept, so the encoding is the input, except for
		// trailing bytes after a fixed-size message, which are ignored.
		if !bytes.HasPrefix(body, enc) {
			t.Fatalf("Encode(Decode(%x)) = %x, not a prefix of the input", body, enc)
		}
		if len(enc) != len(body) {
			switch m.(type) {
			case *Hello, *NewSession, *Unknown:
				t.Fatalf("Decode(%x) dropped %d bytes of a message that has no fixed end", body, len(body)-len(enc))
			}
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(m)) failed: %v", err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("Decode(Encode(m)) = %#v, want %#v", again, m)
		}
	})
}
