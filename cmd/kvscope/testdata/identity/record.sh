#!/usr/bin/env bash
# record.sh [BIN]: re-record the byte-identity outputs of issue 18 point 3
# (TestIdentity in ../../identity_test.go) with the kvscope of commit
# 1608e18 (git tag base18), the commit before the first change for issue 18.
#
# Without BIN it builds base18 in a temporary git worktree; with BIN it uses
# that binary (the recording in the tree was made with /work/bs/kvs-base, a
# build of base18, and checked against a fresh build by this script). It
# never uses the tree under test: that is the point.
#
# Each case of cases.txt runs in a fresh directory holding traces -> the
# shared traces (../shared/traces beside the repository) and mt.jsonl (the
# stdout of case gen-multiturn), so that every path a report prints is
# relative and the same on any machine. For each case it keeps NAME.stdout
# and NAME.stderr when not empty and NAME.FILE for each file the command
# writes there (out.md, out.json, ...). A kept output over 300000 bytes is
# replaced by NAME.X.sha256: its sha256, size, line count, the sha256 of each
# 1000-line chunk and its first 20 lines (the test reads this format).
#
# Usage, from anywhere: cmd/kvscope/testdata/identity/record.sh [BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
shared=$(cd "$root/../shared/traces" && pwd)
tmp=$(mktemp -d)
cleanup() {
	if [ -d "$tmp/src" ]; then git -C "$root" worktree remove --force "$tmp/src" || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

bin=${1:-}
if [ -z "$bin" ]; then
	git -C "$root" worktree add --detach "$tmp/src" base18 >/dev/null
	(cd "$tmp/src" && go build -o "$tmp/kvs-base" ./cmd/kvscope)
	git -C "$root" worktree remove --force "$tmp/src"
	bin=$tmp/kvs-base
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

limit=300000
# keep SRC DEST: copy SRC to DEST, or its summary to DEST.sha256 when large.
keep() {
	local src=$1 dst=$2 size
	size=$(wc -c <"$src")
	if [ "$size" -le "$limit" ]; then
		cp "$src" "$dst"
		return
	fi
	{
		echo "sha256 $(sha256sum <"$src" | cut -d' ' -f1)"
		echo "bytes $size"
		echo "lines $(wc -l <"$src")"
		mkdir "$tmp/split"
		(cd "$tmp/split" && split -l 1000 -a 6 -d "$src" c. && for c in c.*; do echo "chunk $(sha256sum <"$c" | cut -d' ' -f1)"; done)
		rm -rf "$tmp/split"
		echo "head"
		head -n 20 "$src"
	} >"$dst.sha256"
}

rm -f "$here"/*.stdout "$here"/*.stderr "$here"/*.out.* "$here"/*.sha256
while read -r name args; do
	case "$name" in '' | \#*) continue ;; esac
	d=$tmp/case/$name
	mkdir -p "$d"
	ln -s "$shared" "$d/traces"
	if [ -f "$tmp/mt.jsonl" ]; then ln -s "$tmp/mt.jsonl" "$d/mt.jsonl"; fi
	# shellcheck disable=SC2086 # args are split on spaces, as the test does
	if ! (cd "$d" && "$bin" $args >"$tmp/stdout" 2>"$tmp/stderr"); then
		echo "record.sh: case $name failed:" >&2
		cat "$tmp/stderr" >&2
		exit 1
	fi
	if [ "$name" = gen-multiturn ]; then cp "$tmp/stdout" "$tmp/mt.jsonl"; fi
	for s in stdout stderr; do
		if [ -s "$tmp/$s" ]; then keep "$(realpath "$tmp/$s")" "$here/$name.$s"; fi
	done
	for f in "$d"/*; do
		if [ -f "$f" ] && [ ! -L "$f" ]; then keep "$f" "$here/$name.$(basename "$f")"; fi
	done
	echo "recorded $name"
done <"$here/cases.txt"
