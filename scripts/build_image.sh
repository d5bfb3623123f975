#!/usr/bin/env bash
# Build the retailsage image with docker when an engine answers, otherwise podman (or buildah).
#
# usage: scripts/build_image.sh [--tag TAG] [--base IMAGE] [--wheelhouse] [--engine NAME]
#                               [-- EXTRA BUILD ARGS...]
#   --tag TAG      image name (default: $RETAILSAGE_IMAGE or localhost/retailsage:latest)
#   --base IMAGE   BASE_IMAGE build-arg (default: the Dockerfile's, python:3.11-slim-bookworm)
#   --wheelhouse   download every wheel of container/requirements.txt on this host into
#                  build/wheelhouse (host pip configuration) and install offline in the build
#   --engine NAME  docker, podman or buildah (default: the first that works, in that order)
# Environment: TORCH_INDEX_URL (index mode: where torch comes from; CPU wheel index by default),
#   PIP_INDEX_URL (index mode: the package index), TORCH_VARIANT (wheelhouse mode: the local
#   label the torch wheel must carry, default `cpu`; empty accepts any).
# Prints the image size and the build time at the end.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="${RETAILSAGE_IMAGE:-localhost/retailsage:latest}"
base=""
engine=""
wheelhouse=0
extra=()

die() { echo "build_image: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --base) base="${2:?--base needs a value}"; shift 2 ;;
    --engine) engine="${2:?--engine needs a value}"; shift 2 ;;
    --wheelhouse) wheelhouse=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

pick_engine() {
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    echo docker
  elif command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then
    echo podman
  elif command -v buildah >/dev/null 2>&1; then
    echo buildah
  else
    return 1
  fi
}

make_wheelhouse() {
  local dir="$repo/build/wheelhouse" python="${PYTHON:-$repo/.venv/bin/python}"
  [[ -x "$python" ]] || python="python3"
  rm -rf "$dir" && mkdir -p "$dir"
  # The image is linux x86_64 CPython 3.11 whatever this host is; the platform tags list the
  # manylinux levels the lock's wheels are published under (all <= bookworm's glibc 2.36).
  "$python" -m pip download --quiet --no-deps --only-binary=:all: -d "$dir" \
    --python-version 3.11 --implementation cp --abi cp311 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 \
    -r "$repo/container/requirements.txt"
  local variant="${TORCH_VARIANT-cpu}" torch_wheel
  torch_wheel="$(basename "$(ls "$dir"/torch-*.whl)")"
  if [[ -n "$variant" && "$torch_wheel" != *"+$variant-"* ]]; then
    die "wheelhouse torch wheel is $torch_wheel, not +$variant: point pip at the PyTorch index" \
        "(PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/$variant) or set TORCH_VARIANT="
  fi
  echo "wheelhouse: $(find "$dir" -name '*.whl' | wc -l) wheels, $(du -sh "$dir" | cut -f1)"
}

if [[ -z "$engine" ]]; then
  engine="$(pick_engine)" || die "no container engine: docker has no daemon and podman/buildah" \
    "are not installed (apt-get install -y podman buildah runc)"
fi

args=(--tag "$tag" --file "$repo/Dockerfile")
[[ -n "$base" ]] && args+=(--build-arg "BASE_IMAGE=$base")
[[ -n "${TORCH_INDEX_URL:-}" ]] && args+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
[[ -n "${PIP_INDEX_URL:-}" ]] && args+=(--build-arg "PIP_INDEX_URL=$PIP_INDEX_URL")
# PIP_SOURCE is always passed: buildah 1.28 does not expand an ARG's Dockerfile default when it
# works out which stages `FROM deps-${PIP_SOURCE}` needs ("deps-index: image not known").
if [[ "$wheelhouse" == 1 ]]; then
  make_wheelhouse
  rm -rf "$repo/build/native"
  sh "$repo/scripts/build_native.sh" "$repo/container/retailsage/models/_treewalk.c" \
    "$repo/build/native" "${PYTHON:-$repo/.venv/bin/python}"
  args+=(--build-arg PIP_SOURCE=wheelhouse)
else
  args+=(--build-arg PIP_SOURCE=index)
fi

case "$engine" in
  docker) cmd=(docker build) ;;
  # chroot isolation: the OCI default needs cgroup setup that rootless/nested hosts lack;
  # --pull=never: the base must already be local (no registry is reachable from some hosts).
  podman) cmd=(podman build --isolation chroot --pull=never --layers) ;;
  buildah) cmd=(buildah build --isolation chroot --pull-never --layers) ;;
  *) die "unknown engine '$engine' (docker, podman or buildah)" ;;
esac

start=$SECONDS
"${cmd[@]}" "${args[@]}" "${extra[@]}" "$repo"
elapsed=$((SECONDS - start))

case "$engine" in
  docker) size="$(docker image inspect --format '{{.Size}}' "$tag")" ;;
  podman) size="$(podman image inspect --format '{{.Size}}' "$tag")" ;;
  buildah) size="$(buildah inspect --type image --format '{{.FromImageSize}}' "$tag" 2>/dev/null || echo 0)" ;;
esac
echo "built $tag with $engine in ${elapsed}s; size $((size / 1000000)) MB ($size bytes)"
