#!/usr/bin/env bash
# Builds the six scratch images from Dockerfile.multi and, with --push, pushes them.
#   scripts/build-images.sh [--push] [REGISTRY [TAG]]
#   scripts/build-images.sh --push registry.example.com/lukseun 0.1.0
# Images are named <REGISTRY>/<service>:<TAG> (default lukseun/<service>:0.1.0, the names the
# manifests use; set another registry or tag in manifests/kustomization.yaml `images:`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
push=0
if [ "${1:-}" = "--push" ]; then push=1; shift; fi
registry=${1:-lukseun}
tag=${2:-0.1.0}
for service in gate worker auth edge mail config; do
  image="$registry/$service:$tag"
  # The builder stage is shared: after the first target the others reuse its cached layers.
  DOCKER_BUILDKIT=1 docker build -f Dockerfile.multi --target "$service" -t "$image" .
  [ "$push" -eq 1 ] && docker push "$image"
done
