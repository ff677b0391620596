package modules

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"
)

// aListen listens on a loopback port; each connection gets greeting.
func aListen(t *testing.T, greeting string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(greeting))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).Port
}

// aClosedPort returns a loopback port nothing listens on.
func aClosedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// Messages follow Ansible 2.14's wait_for, captured with
//
//	ansible localhost -c local -m wait_for -a 'port=1 timeout=2'
//	ansible localhost -c local -m wait_for -a 'path=/etc/passwd search_regex=ro(o)t'
func TestWaitForModule(t *testing.T) {
	f := newAConn(t)
	aSh(t, f, "printf 'listening on port 8080\\n' > log")
	open := aListen(t, "SSH-2.0-OpenSSH_9.2\r\n")
	closed := aClosedPort(t)
	tests := []struct {
		name   string
		args   map[string]any
		check  bool
		want   Result
		fields map[string]any
	}{
		{name: "open port", args: map[string]any{"port": int64(open)},
			want: Result{}, fields: map[string]any{"port": int64(open), "state": "started", "elapsed": int64(0), "path": nil, "match_groups": []any{}}},
		{name: "port greeting", args: map[string]any{"port": strconv.Itoa(open), "search_regex": `^SSH-(\d)`},
			want: Result{}, fields: map[string]any{"search_regex": `^SSH-(\d)`}},
		{name: "closed port", args: map[string]any{"port": int64(closed), "timeout": int64(1)},
			want: Result{Failed: true, Msg: "Timeout when waiting for 127.0.0.1:" + strconv.Itoa(closed)}, fields: map[string]any{"elapsed": int64(1)}},
		{name: "closed port, custom message", args: map[string]any{"port": int64(closed), "timeout": int64(0), "msg": "web is down"},
			want: Result{Failed: true, Msg: "web is down"}},
		{name: "stopped port", args: map[string]any{"port": int64(closed), "state": "stopped"},
			want: Result{}, fields: map[string]any{"state": "stopped"}},
		{name: "open port not stopped", args: map[string]any{"port": int64(open), "state": "stopped", "timeout": int64(0)},
			want: Result{Failed: true, Msg: "Timeout when waiting for 127.0.0.1:" + strconv.Itoa(open) + " to stop."}},
		{name: "file with a match", args: map[string]any{"path": "log", "search_regex": `port (?P<port>\d+)`},
			want: Result{}, fields: map[string]any{"path": "log", "state": "file", "match_groups": []any{"8080"}, "match_groupdict": map[string]any{"port": "8080"}}},
		{name: "file without the match", args: map[string]any{"path": "log", "search_regex": "error", "timeout": int64(0)},
			want: Result{Failed: true, Msg: "Timeout when waiting for search string error in log"}},
		{name: "missing file", args: map[string]any{"path": "~/nope", "timeout": int64(0)},
			want: Result{Failed: true, Msg: "Timeout when waiting for file " + f.dir + "/nope"}},
		{name: "absent file", args: map[string]any{"path": "nope", "state": "absent"},
			want: Result{}, fields: map[string]any{"state": "absent", "path": "nope"}},
		{name: "check mode", args: map[string]any{"path": "log"}, check: true,
			want: Result{Skipped: true, Msg: "remote module (wait_for) does not support check mode"}},
		{name: "port and path", args: map[string]any{"path": "log", "port": int64(22)},
			want: Result{Failed: true, Msg: "port and path parameter can not both be passed to wait_for"}},
		{name: "stopped path", args: map[string]any{"path": "log", "state": "stopped"},
			want: Result{Failed: true, Msg: "state=stopped should only be used for checking a port in the wait_for module"}},
		{name: "bad timeout", args: map[string]any{"port": int64(22), "timeout": "soon"},
			want: Result{Failed: true, Msg: "argument 'timeout' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"}},
		{name: "sleep only", args: map[string]any{"timeout": int64(0)},
			want: Result{}, fields: map[string]any{"state": "started", "port": nil, "path": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := aRun(t, f, "wait_for", tt.args, func(c *Call) { c.Check = tt.check })
			if !aSameStatus(r, tt.want) {
				t.Errorf("got %v %q, want %+v (fields %v)", [3]bool{r.Changed, r.Failed, r.Skipped}, r.Msg, tt.want, r.Fields)
			}
			for k, v := range tt.fields {
				if !reflect.DeepEqual(r.Fields[k], v) {
					t.Errorf("%s = %#v, want %#v", k, r.Fields[k], v)
				}
			}
		})
	}
}

func TestWaitForFileAppears(t *testing.T) {
	f := newAConn(t)
	f.afterRun = func(n int) {
		if n == 1 {
			os.WriteFile(filepath.Join(f.dir, "ready"), []byte("ok\n"), 0o644)
		}
	}
	r := aRun(t, f, "wait_for", map[string]any{"path": "ready", "timeout": int64(30), "sleep": int64(0)})
	if r.Failed || f.runs() != 2 {
		t.Errorf("result %+v after %d looks, want ok after 2", r, f.runs())
	}
}

func TestWaitForRespectsContext(t *testing.T) {
	f := newAConn(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.afterRun = func(n int) { cancel() }
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, &Call{Host: "h1", Module: "wait_for", Args: map[string]any{"path": "never", "timeout": int64(300)}, Conn: f})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("wait_for did not stop when its context ended")
	}
}
