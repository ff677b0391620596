package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/transfer"
)

// Progress follows the bytes of a transfer across hosts; *report.Progress
// is the terminal one.
type Progress interface {
	AddTotal(int64)
	Add(int64)
	HostDone()
}

// PushOptions describe a push to many hosts.
type PushOptions struct {
	Source *transfer.Source
	// Dests holds each host's destination, templated already.
	Dests map[string]string
	// Becomes holds how each host is written through sudo; hosts absent
	// from it are written as the login user.
	Becomes map[string]*transfer.Become
	// Push is the per-host behaviour; Dest, Report, Planned and Sent are
	// filled in for each host.
	Push     transfer.PushOptions
	Forks    int
	Sink     report.Sink
	Progress Progress // nil: none
}

// PullOptions describe a pull from many hosts.
type PullOptions struct {
	// Srcs holds each host's remote path, templated already.
	Srcs map[string]string
	// Dests holds each host's local directory, usually LOCALDIR/<host>.
	Dests    map[string]string
	Pull     transfer.PullOptions
	Forks    int
	Sink     report.Sink
	Progress Progress
}

// cleanupTimeout bounds the tidying of temp files after a host's
// connection died: reconnecting and removing them.
const cleanupTimeout = 30 * time.Second

// Push pushes opts.Source to every host, at most opts.Forks hosts at once,
// each over one SFTP session on its master.
func Push(ctx context.Context, conn Connector, hosts []Host, opts PushOptions) *Outcome {
	return transferAll(ctx, conn, hosts, opts.Forks, opts.Sink, opts.Progress,
		func(ctx context.Context, h Host, r *transfer.Remote, files fileHooks) (report.TransferStats, error) {
			o := opts.Push
			o.Dest, o.Become = opts.Dests[h.Name], opts.Becomes[h.Name]
			o.Report, o.Planned, o.Sent = files.report, files.planned, files.sent
			return transfer.Push(ctx, r, opts.Source, o)
		})
}

// Pull fetches from every host into its local directory.
func Pull(ctx context.Context, conn Connector, hosts []Host, opts PullOptions) *Outcome {
	return transferAll(ctx, conn, hosts, opts.Forks, opts.Sink, opts.Progress,
		func(ctx context.Context, h Host, r *transfer.Remote, files fileHooks) (report.TransferStats, error) {
			o := opts.Pull
			o.Src, o.Dest = opts.Srcs[h.Name], opts.Dests[h.Name]
			o.Report, o.Planned, o.Sent = files.report, files.planned, files.sent
			return transfer.Pull(ctx, r, o)
		})
}

type fileHooks struct {
	report  func(report.FileResult)
	planned func(int64)
	sent    func(int64)
}

type transferFunc func(ctx context.Context, h Host, r *transfer.Remote, files fileHooks) (report.TransferStats, error)

func transferAll(ctx context.Context, conn Connector, hosts []Host, forks int, sink report.Sink, progress Progress, do transferFunc) *Outcome {
	return eachHost(ctx, hosts, forks, func(h Host) (report.Status, bool) {
		return transferHost(ctx, conn, h, sink, progress, do)
	})
}

func transferHost(ctx context.Context, conn Connector, h Host, sink report.Sink, progress Progress, do transferFunc) (report.Status, bool) {
	start := time.Now()
	stats := &report.TransferStats{}
	done := func(st report.Status, err error) (report.Status, bool) {
		if progress != nil {
			progress.HostDone()
		}
		sink.Host(report.HostResult{Host: h.Name, Status: st, Err: err, Transfer: stats, Start: start, End: time.Now()})
		return st, true
	}
	m, err := conn.Get(ctx, h.Target)
	if err != nil {
		if ctx.Err() != nil {
			return 0, false
		}
		return done(report.Unreachable, hostError(err))
	}
	defer m.Release()
	fs, err := m.SFTP(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0, false
		}
		if muxconn.IsUnreachable(err) {
			return done(report.Unreachable, hostError(err))
		}
		return done(report.Failed, err)
	}
	remote, closeFS := sftpRemote(m, h.Name, fs)
	defer closeFS()
	hooks := fileHooks{report: func(report.FileResult) {}}
	if fsink, ok := sink.(report.FileSink); ok {
		hooks.report = fsink.File
	}
	if progress != nil {
		hooks.planned, hooks.sent = progress.AddTotal, progress.Add
	}
	st, err := do(ctx, h, remote, hooks)
	*stats = st
	var perr *transfer.PushError
	if errors.As(err, &perr) && len(perr.Leftovers) > 0 {
		// The connection died mid-copy: tidy the temp files over a new
		// one, even when interrupted, so none is left behind. What
		// can't be removed is reported path by path, interrupted or not.
		if cerr := cleanup(ctx, conn, h, perr.Leftovers); cerr != nil {
			for _, p := range perr.Leftovers {
				hooks.report(report.FileResult{Host: h.Name, Path: p, Action: report.FileFailed, Time: time.Now(),
					Err: fmt.Errorf("temporary file left behind; remove it by hand (%v)", cerr)})
			}
			err = fmt.Errorf("%w; %v", err, cerr)
		}
	}
	if ctx.Err() != nil {
		return 0, false
	}
	switch {
	case err == nil:
		return done(report.OK, nil)
	case muxconn.IsUnreachable(err):
		return done(report.Unreachable, hostError(err))
	default:
		return done(report.Failed, err)
	}
}

// cleanup removes a transfer's leftover temp files over a fresh connection.
func cleanup(ctx context.Context, conn Connector, h Host, paths []string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	m, err := conn.Get(ctx, h.Target)
	if err != nil {
		return fmt.Errorf("temporary files were left on the host (%v); remove them by hand: %q", hostError(err), paths)
	}
	defer m.Release()
	fs, err := m.SFTP(ctx)
	if err != nil {
		return fmt.Errorf("temporary files were left on the host (%v); remove them by hand: %q", err, paths)
	}
	defer fs.Close()
	return transfer.Cleanup(fs.Client, paths)
}

// sftpRemote makes the transfer.Remote of a host from its master and an
// open SFTP session. Commands run in sessions of their own; on a server
// that takes one session at a time (MaxSessions 1), the SFTP session makes
// way for each command and is reopened after it, which is safe because a
// transfer runs commands only between SFTP calls. closeFS closes whichever
// SFTP session is open at the end.
func sftpRemote(m *muxconn.Master, host string, fs *muxconn.SFTP) (r *transfer.Remote, closeFS func()) {
	remote := &transfer.Remote{Host: host, FS: fs.Client, Lost: fs.Lost}
	remote.Run = func(ctx context.Context, cmd string, stdin []byte, stdout, stderr io.Writer) error {
		c := muxconn.Command{Cmd: cmd, Stdout: stdout, Stderr: stderr}
		if stdin != nil {
			c.Stdin = bytes.NewReader(stdin)
		}
		err := m.TryRun(ctx, c)
		if !errors.Is(err, muxconn.ErrNoRoom) {
			return err
		}
		fs.Close()
		err = m.Run(ctx, c)
		// Reopen even when interrupted: what was written must still be
		// tidied through it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		next, oerr := m.SFTP(rctx)
		if oerr != nil {
			// With no SFTP session the transfer can't go on or tidy
			// up: treat the host as lost, so its leftovers are removed
			// over a new connection.
			gone := fmt.Errorf("reopening the SFTP session: %w", oerr)
			remote.Lost = func(error) (error, bool) { return gone, true }
			return errors.Join(err, gone)
		}
		fs, remote.FS, remote.Lost = next, next.Client, next.Lost
		return err
	}
	return remote, func() { fs.Close() }
}
