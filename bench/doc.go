// Package bench measures fleet against its peers (OpenSSH with
// ControlMaster, pssh, pdsh, rsync, scp and Ansible) on the same real sshd
// hosts. It holds only the TestBench benchmark, which `make bench` and
// `make bench-quick` run; see README.md in this directory.
package bench
