#!/usr/bin/env bash
# Builds the six scratch images with podman from the host's static musl binaries, through the
# real Dockerfile.multi targets: a local folder stands for the `build` stage
# (`podman build --build-context build=<dir>`), so nothing is pulled and no Rust image runs.
#   scripts/podman-images.sh [--binaries DIR] [REGISTRY [TAG]]
# DIR holds release/ and release-small/ of the x86_64-unknown-linux-musl target (default: built
# now into target/, as ./lukseun up --musl and packaging's tests build them). Images are
# named <REGISTRY>/<service>:<TAG> (default lukseun/<service>:0.1.0, as the manifests).
# scripts/build-images.sh is the same with docker and the builder stage compiling in a container.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MUSL_TARGET=x86_64-unknown-linux-musl
SERVICES=(gate worker auth edge mail config)

binaries=""
if [ "${1:-}" = "--binaries" ]; then binaries=${2:?--binaries needs a directory}; shift 2; fi
registry=${1:-lukseun}
tag=${2:-0.1.0}

if [ -z "$binaries" ]; then
  # The same builds as Dockerfile.multi's builder stage.
  cargo build --release --locked --target "$MUSL_TARGET" -p gate -p auth -p edge -p mail -p config
  cargo build --profile release-small --locked --target "$MUSL_TARGET" -p worker
  binaries="${CARGO_TARGET_DIR:-$ROOT/target}/$MUSL_TARGET"
fi

# The folder standing for the builder stage: the paths Dockerfile.multi copies from it.
stage=$(mktemp -d "${TMPDIR:-/tmp}/lukseun-podman-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/out/mail-root" "$stage/src"
for service in "${SERVICES[@]}"; do
  profile=release
  [ "$service" = worker ] && profile=release-small   # as in Dockerfile.multi
  cp "$binaries/$profile/$service" "$stage/out/$service"
done
cp -r "$ROOT/game-config" "$stage/src/game-config"

for service in "${SERVICES[@]}"; do
  # The stage folder is the build context too: the scratch targets read nothing else.
  podman build --quiet -f "$ROOT/Dockerfile.multi" --build-context "build=$stage" \
    --target "$service" -t "$registry/$service:$tag" "$stage" >/dev/null
  echo "$registry/$service:$tag"
done
