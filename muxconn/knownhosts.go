package muxconn

import (
	"golang.org/x/crypto/ssh"

	"fleetrun.dev/fleet/muxconn/hostkey"
	"fleetrun.dev/fleet/muxconn/target"
)

// KnownHosts checks host keys against the target's known_hosts files with
// its StrictHostKeyChecking, sharing one parsed copy of each file between
// every host of the run.
type KnownHosts struct {
	DB   *hostkey.DB
	Warn func(msg string) // e.g. a changed key accepted under StrictHostKeyChecking no
}

// For implements HostKeys.
func (k KnownHosts) For(t *target.Target) (ssh.HostKeyCallback, []string, error) {
	c, err := k.DB.Checker(hostkey.Options{
		Host:         t.HostName,
		Port:         t.Port,
		HostKeyAlias: t.HostKeyAlias,
		UserFiles:    t.UserKnownHostsFiles,
		GlobalFiles:  t.GlobalKnownHostsFiles,
		Strict:       t.StrictHostKeyChecking,
		Hash:         t.HashKnownHosts,
		Warn:         k.Warn,
	})
	if err != nil {
		return nil, nil, err
	}
	return c.Callback(), c.Algorithms(), nil
}
