#!/bin/sh
# Run by the script module on each host: writes its arguments and where it
# ran into the file named by $1.
out=$1
shift
{
	echo "args: $*"
	echo "dir: $(basename "$PWD")"
	echo "shell ok"
} > "$out"
echo "probe wrote $out"
