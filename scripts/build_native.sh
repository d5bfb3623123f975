#!/bin/sh
# Compile the C extension retailsage.models._treewalk for the Python given (default python3).
# `pip install -e .` builds it through setup.py; the image build runs this script instead (no
# setuptools or pip in the final image): in its native-index stage with the base image's Python,
# and on the host for --wheelhouse builds (scripts/build_image.sh).
#
# usage: scripts/build_native.sh SOURCE.c OUT_DIR [PYTHON]
set -eu
src="${1:?usage: build_native.sh SOURCE.c OUT_DIR [PYTHON]}"
out="${2:?usage: build_native.sh SOURCE.c OUT_DIR [PYTHON]}"
python="${3:-python3}"
include="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
suffix="$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
# the same flags as setup.py: -O3, and SSE4.2/POPCNT on x86_64 (every x86 SageMaker host)
arch_flags=""
[ "$(uname -m)" = "x86_64" ] && arch_flags="-march=x86-64-v2"
mkdir -p "$out"
# shellcheck disable=SC2086  # arch_flags is empty or one word
gcc -O3 $arch_flags -Wall -shared -fPIC -I"$include" -o "$out/_treewalk$suffix" "$src"
echo "built $out/_treewalk$suffix"
