package mux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// defaultClientTimeout bounds a control request when ctx has no deadline,
// so that a master that accepts and never answers cannot hang `fleet
// master status`.
const defaultClientTimeout = 30 * time.Second

// StatusInfo is what a fleet master reports about itself.
type StatusInfo struct {
	PID        int       // the master's process id
	Started    time.Time // when it started serving
	LastActive time.Time // when its last session ended, or Started
	Active     int       // sessions open now
}

// NotFleetError is returned by Status when the master at Path refuses
// fleet's status request: it is OpenSSH's master (or another that does not
// know the request). Check still works with it.
type NotFleetError struct {
	Path   string
	Reason string // the master's reason, "unsupported request" for OpenSSH
}

func (e *NotFleetError) Error() string {
	return fmt.Sprintf("mux: the master at %s is not fleet's (it answered the status request with %q); `ssh -O check -S %s` can still check it", e.Path, e.Reason, e.Path)
}

// RefusedError is returned when a master answers a request with
// MUX_S_FAILURE or MUX_S_PERMISSION_DENIED.
type RefusedError struct {
	Path    string
	Request MsgType
	Denied  bool // MUX_S_PERMISSION_DENIED rather than MUX_S_FAILURE
	Reason  string
}

func (e *RefusedError) Error() string {
	how := "refused"
	if e.Denied {
		how = "denied"
	}
	return fmt.Sprintf("mux: the master at %s %s %s: %s", e.Path, how, e.Request, e.Reason)
}

// Check asks the master at path whether it is alive, as `ssh -O check`
// does, and returns its process id. It works with OpenSSH's masters and
// fleet's.
func Check(ctx context.Context, path string) (pid int, err error) {
	var alive *Alive
	err = request(ctx, path, &AliveCheck{}, func(m Message) bool {
		alive, _ = m.(*Alive)
		return alive != nil
	})
	if err != nil {
		return 0, err
	}
	return int(alive.PID), nil
}

// Exit asks the master at path to exit, as `ssh -O exit` does.
func Exit(ctx context.Context, path string) error {
	err := request(ctx, path, &Terminate{}, func(m Message) bool {
		_, ok := m.(*OK)
		return ok
	})
	// OpenSSH's master may exit before its reply gets out: ssh takes that
	// as success too.
	if errors.Is(err, errNoReply) {
		return nil
	}
	return err
}

// errNoReply is wrapped by request's error when the master closed the
// connection after reading the request and before answering it.
var errNoReply = errors.New("no reply")

// StopListening asks the master at path to stop accepting clients and
// remove its socket while keeping its connection, as `ssh -O stop` does.
func StopListening(ctx context.Context, path string) error {
	return request(ctx, path, &StopListeningRequest{}, func(m Message) bool {
		_, ok := m.(*OK)
		return ok
	})
}

// Status asks fleet's master at path about itself. Other masters, OpenSSH's
// among them, answer with a failure, which Status returns as a
// *NotFleetError.
func Status(ctx context.Context, path string) (StatusInfo, error) {
	var r *FleetStatusReply
	err := request(ctx, path, &FleetStatus{}, func(m Message) bool {
		r, _ = m.(*FleetStatusReply)
		return r != nil
	})
	var refused *RefusedError
	if errors.As(err, &refused) {
		return StatusInfo{}, &NotFleetError{Path: path, Reason: refused.Reason}
	}
	if err != nil {
		return StatusInfo{}, err
	}
	return StatusInfo{
		PID:        int(r.PID),
		Started:    time.Unix(0, int64(r.Started)),
		LastActive: time.Unix(0, int64(r.LastActive)),
		Active:     int(r.Active),
	}, nil
}

// request connects to the master at path, exchanges HELLOs, sends req as
// the connection's first request (id 0) and passes the reply to want, which
// reports whether it is the expected kind. FAILURE and PERMISSION_DENIED
// become a *RefusedError.
func request(ctx context.Context, path string, req Message, want func(Message) bool) (err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultClientTimeout)
		defer cancel()
	}
	defer func() {
		// A deadline or cancellation shows up as an I/O error: say which.
		if err != nil && ctx.Err() != nil && !errors.Is(err, errNoReply) {
			err = fmt.Errorf("mux: %s to the master at %s: %w", req.Type(), path, context.Cause(ctx))
		}
	}()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("mux: connecting to the master at %s: %w", path, err)
	}
	defer nc.Close()
	dl, _ := ctx.Deadline()
	nc.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if err := WritePacket(nc, &Hello{Version: Version}); err != nil {
		return err
	}
	m, err := readMessage(nc)
	if err != nil {
		return fmt.Errorf("mux: reading the HELLO of the master at %s: %w", path, err)
	}
	h, ok := m.(*Hello)
	if !ok {
		return fmt.Errorf("mux: the master at %s sent %s instead of %s", path, m.Type(), MsgHello)
	}
	if h.Version != Version {
		return fmt.Errorf("mux: the master at %s speaks mux protocol version %d, not %d", path, h.Version, Version)
	}
	if err := WritePacket(nc, req); err != nil {
		return err
	}
	m, err = readMessage(nc)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return fmt.Errorf("mux: the master at %s closed the connection before answering %s (%w)", path, req.Type(), errNoReply)
		}
		return fmt.Errorf("mux: reading the reply of the master at %s to %s: %w", path, req.Type(), err)
	}
	var id uint32
	switch m := m.(type) {
	case *Failure:
		id = m.ID
		err = &RefusedError{Path: path, Request: req.Type(), Reason: m.Reason}
	case *PermissionDenied:
		id = m.ID
		err = &RefusedError{Path: path, Request: req.Type(), Denied: true, Reason: m.Reason}
	case *OK:
		id = m.ID
	case *Alive:
		id = m.ID
	case *FleetStatusReply:
		id = m.ID
	}
	if id != 0 {
		return fmt.Errorf("mux: the master at %s answered request 0 with request id %d", path, id)
	}
	if err != nil {
		return err
	}
	if !want(m) {
		return fmt.Errorf("mux: the master at %s answered %s with %s", path, req.Type(), m.Type())
	}
	return nil
}

func readMessage(c net.Conn) (Message, error) {
	body, err := ReadPacket(c)
	if err != nil {
		return nil, err
	}
	return Decode(body)
}
