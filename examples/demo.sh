#!/usr/bin/env bash
# make demo: start 20 local lab hosts (in-process SSH servers, nothing to
# install), then ping them, run commands on all of them and push files to
# them, over one connection each. The lab stops when the demo ends.
set -euo pipefail
cd "$(dirname "$0")/.."
fleet=${FLEET:-bin/fleet}
lab=${FLEET_LAB:-bin/fleet-lab}

bold="" plain=""
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/fleet-demo.XXXXXX")
labpid=
cleanup() {
	# The deploy's apps run on the lab hosts, which share this machine.
	for pid in "$dir"/app/*/run/app.pid; do
		[ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
	done
	if [ -n "$labpid" ]; then
		kill "$labpid" 2>/dev/null || true
		wait "$labpid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

printf '%s$ fleet-lab up -n 20 -dir %s &%s\n' "$bold" "$dir" "$plain"
"$lab" up -n 20 -dir "$dir" >"$dir.log" 2>&1 &
labpid=$!
for _ in $(seq 200); do
	[ -e "$dir/ready" ] && break
	if ! kill -0 "$labpid" 2>/dev/null; then
		cat "$dir.log" >&2
		echo "demo: fleet-lab failed to start" >&2
		exit 1
	fi
	sleep 0.05
done
[ -e "$dir/ready" ] || { cat "$dir.log" >&2; echo "demo: fleet-lab did not get ready" >&2; exit 1; }
rm -f "$dir.log"

# The lab's inventory holds each host's address and port; its ssh_config
# holds the key and known_hosts, as a user's ~/.ssh/config would.
export FLEET_INVENTORY=$dir/inventory.yml
ssh_config=$dir/ssh_config
run() {
	printf '\n%s$ fleet %s%s\n' "$bold" "$*" "$plain"
	"$fleet" "$@"
}
# runtail N ARGS... runs fleet and shows the last N lines of its output.
runtail() {
	n=$1
	shift
	printf '\n%s$ fleet %s | tail -n %s%s\n' "$bold" "$*" "$n" "$plain"
	"$fleet" "$@" | tail -n "$n"
}

run hosts 'web:!lab01' --limit 'lab0*'
run ping all --ssh-config "$ssh_config"
run run web --ssh-config "$ssh_config" -c 'echo "hello from $PWD"' -c 'expr 6 \* 7' -c 'echo "$SSH_CONNECTION"'
run run all --ssh-config "$ssh_config" --parallel -c 'sleep 0.2; echo one' -c 'sleep 0.2; echo two' -c 'sleep 0.2; echo three' --group
run ssh-config lab01 --ssh-config "$ssh_config"
printf '\n%s$ fleet run db --ssh-config %s -- exit 3   # a failing command: exit code 2%s\n' "$bold" "$ssh_config" "$plain"
"$fleet" run db --ssh-config "$ssh_config" -- 'exit 3' || echo "(exit status $?)"

# File push: one SFTP session per host over its connection. The lab hosts
# share this machine's disk, so each gets its own directory from its name.
mkdir -p "$dir/site/css"
printf '<h1>fleet demo</h1>\n' >"$dir/site/index.html"
printf 'body { font: 14px sans-serif }\n' >"$dir/site/css/site.css"
head -c 1048576 /dev/urandom >"$dir/site/logo.bin"
run push web --ssh-config "$ssh_config" "$dir/site/" "$dir/www/{{ inventory_hostname }}/"
printf '\n# the same push again: nothing changed, nothing sent'
run push web --ssh-config "$ssh_config" "$dir/site/" "$dir/www/{{ inventory_hostname }}/"
printf '<h1>fleet demo, v2</h1>\n' >"$dir/site/index.html"
printf '\n# one file changed: only it is sent (-v lists each file)'
run push 'web[0:1]' --ssh-config "$ssh_config" "$dir/site/" "$dir/www/{{ inventory_hostname }}/" -v
run pull 'web[0:1]' --ssh-config "$ssh_config" "$dir/www/{{ inventory_hostname }}/index.html" "$dir/pulled"
find "$dir/pulled" -type f | sed "s|^$dir/||" | sort

# Playbooks: every task is a session over the host's one connection. A
# rolling deploy, two hosts at a time, with a handler that restarts the app;
# then the same again, which changes nothing, and a check of the next
# release, which changes nothing either but says what would change.
app="$dir/app/{{ inventory_hostname }}"
run play examples/playbooks/deploy.yml --ssh-config "$ssh_config" -l 'web[0:3]' -e "root=$app"
printf '\n# the same deploy again: changed=0 everywhere'
runtail 6 play examples/playbooks/deploy.yml --ssh-config "$ssh_config" -l 'web[0:3]' -e "root=$app"
printf '\n# the next release, as a dry run with diffs: nothing changes on the hosts'
runtail 24 play examples/playbooks/deploy.yml --ssh-config "$ssh_config" -l 'web[0:1]' -e "root=$app" -e release=1.1.0 --check --diff
# fleet's parallel: block: several steps at once on each host.
run play examples/playbooks/parallel.yml --ssh-config "$ssh_config" -l 'web[0:1]' -e "root=$app"

# Persistent masters: log in once, then every later run (and stock ssh)
# rides the connection.
cp="$dir/cm-%C"
run master start web --ssh-config "$ssh_config" --control-path "$cp" --persist 1m
run run 'web[0:2]' --ssh-config "$ssh_config" --control-path "$cp" -v -- 'echo no new login'
run master status 'web[0:2]' --ssh-config "$ssh_config" --control-path "$cp"
run master stop web --ssh-config "$ssh_config" --control-path "$cp"
