#!/usr/bin/env bash
# Installs the peers that `make bench` compares fleet with, through apt-get,
# and only those that are missing. A peer that still cannot be installed is
# reported as "n/a" by the benchmark, so this script never fails the run.
set -u

declare -A pkg_of=(
  [parallel-ssh]=pssh
  [pdsh]=pdsh
  [rsync]=rsync
  [ansible-playbook]=ansible
  [ssh]=openssh-client
  [sshd]=openssh-server
)

missing=()
[ -x /usr/bin/time ] || missing+=(time)  # GNU time reports the peak RSS of each tool
for cmd in parallel-ssh pdsh rsync ansible-playbook ssh; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_of[$cmd]}")
done
[ -x /usr/sbin/sshd ] || command -v sshd >/dev/null 2>&1 || missing+=("${pkg_of[sshd]}")

if [ ${#missing[@]} -eq 0 ]; then
  echo "bench/peers.sh: all peers present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench/peers.sh: missing ${missing[*]}; install them (apt-get install ${missing[*]}) or they are reported as n/a" >&2
  exit 0
fi
echo "bench/peers.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q "${missing[@]}"; then
  apt-get update -q && apt-get install -y -q "${missing[@]}" ||
    echo "bench/peers.sh: could not install ${missing[*]}; those peers are reported as n/a" >&2
fi
exit 0
