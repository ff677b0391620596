#!/usr/bin/env bash
# make demo: fleet's inventory features on the example inventories. The lab
# hosts these name become real SSH hosts once `fleet run` lands.
set -euo pipefail
cd "$(dirname "$0")/.."
fleet=${FLEET:-bin/fleet}

bold="" plain=""
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi

run() {
	printf '\n%s$ fleet %s%s\n' "$bold" "$*" "$plain"
	"$fleet" "$@"
}

run --version
run hosts -i examples/inventory all
run hosts -i examples/inventory 'prod:&web:!canary'
run hosts -i examples/inventory 'web[0:1]:db-a*'
run hosts -i examples/hosts.ini '~^db' --limit 'db-b*'
run inventory -i examples/inventory --graph
run inventory -i examples/inventory --host db-a.lab.example
run inventory -i examples/hosts.ini -i examples/inventory --graph prod
printf '\n%s$ fleet hosts -i examples/inventory nosuch   # exits 1%s\n' "$bold" "$plain"
"$fleet" hosts -i examples/inventory nosuch || echo "(exit status $?)"
