#!/usr/bin/env bash
# Builds the pinned llm-d-inference-sim (the live tests' attached worker) once
# into a cache directory kept between CI runs, and skips the build when the
# binary is already there. A cold build takes about 5 minutes on 2 cores.
#
#   .ci/live-sim/build.sh            build if missing; link it into $HOME/go/bin
#   KVSCOPE_LLMD_SIM_CACHE=DIR ...   use DIR instead of ~/.cache/kvscope
#
# The version comes from go.mod's tool line here (v0.10.2); the live tests
# find the binary through $KVSCOPE_LLMD_SIM or this same cache path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=v0.10.2
pkg=github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim
cache="${KVSCOPE_LLMD_SIM_CACHE:-$HOME/.cache/kvscope}"
bin="$cache/llm-d-inference-sim-$version"

# The CLI scripts (cmd/kvscope/testdata/script/live_*.txtar) find the server
# on PATH; .ci/run puts $HOME/go/bin there.
link() {
  mkdir -p "$HOME/go/bin"
  ln -sfn "$bin" "$HOME/go/bin/llm-d-inference-sim-$version"
}

if [ -x "$bin" ]; then
  echo "llm-d-inference-sim $version: cached at $bin"
  link
  exit 0
fi

# go.mod must pin exactly this version; a mismatch would cache a binary under
# the wrong name.
if ! grep -q "github.com/llm-d/llm-d-inference-sim $version" "$here/go.mod"; then
  echo "build.sh: $here/go.mod does not pin llm-d-inference-sim $version" >&2
  exit 1
fi

mkdir -p "$cache"
tmp="$(mktemp "$cache/.llm-d-inference-sim.XXXXXX")"
# Build from a private copy of go.mod/go.sum: the checkout may change under
# a long build (another checkout, a stash), the copy cannot.
work="$(mktemp -d)"
trap 'rm -f "$tmp"; rm -rf "$work"' EXIT
cp "$here/go.mod" "$here/go.sum" "$work/"
echo "llm-d-inference-sim $version: building (cold build ~5 min on 2 cores)"
start=$(date +%s)
# -mod=readonly: go.sum must already hold every hash (no silent updates);
# -trimpath and no VCS stamping keep the build independent of the checkout.
(cd "$work" && GOFLAGS=-mod=readonly go build -trimpath -buildvcs=false -o "$tmp" "$pkg")
chmod +x "$tmp"
mv "$tmp" "$bin"
trap 'rm -rf "$work"' EXIT
link
echo "llm-d-inference-sim $version: built $bin in $(( $(date +%s) - start ))s"
