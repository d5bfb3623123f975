# retailsage: one SageMaker image for `train` and `serve` (docs/image.md).
# Build with scripts/build_image.sh (docker when an engine answers, else podman/buildah).
#
# Build arguments:
#   BASE_IMAGE       a Python 3.11 image with python3 + venv; default the public slim image.
#   PIP_SOURCE       "index": RUN steps install from PIP_INDEX_URL (+ TORCH_INDEX_URL for torch);
#                    "wheelhouse": offline install from build/wheelhouse (made on the host).
#                    Pass it explicitly to buildah/podman, which ignore this default when
#                    choosing stages (scripts/build_image.sh does).
#   PIP_INDEX_URL    the package index for index mode.
#   TORCH_INDEX_URL  where the torch wheel comes from in index mode: the CPU wheel index by default;
#                    a CUDA index (e.g. https://download.pytorch.org/whl/cu128) for a GPU image.
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG PIP_SOURCE=index

# ---------------------------------------------------------------------------------------------
# venv: an empty virtualenv plus the lock; the only stage that has pip in it.
FROM ${BASE_IMAGE} AS venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=TRUE
RUN python3 -m venv /opt/venv
COPY container/requirements.txt /tmp/requirements.txt

# deps-index: torch from its own wheel index first (the lock's torch pin then counts as met),
# then the rest of the lock from the package index.
FROM venv AS deps-index
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN torch_pin="$(grep -E '^torch==' /tmp/requirements.txt)" \
    && /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: --no-deps \
        --index-url "${TORCH_INDEX_URL}" "${torch_pin}" \
    && /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: \
        --index-url "${PIP_INDEX_URL}" -r /tmp/requirements.txt

# deps-wheelhouse: no network at all; every wheel comes from build/wheelhouse.
FROM venv AS deps-wheelhouse
COPY build/wheelhouse/ /tmp/wheelhouse/
RUN /opt/venv/bin/pip install --no-cache-dir --no-index --only-binary=:all: \
        --find-links /tmp/wheelhouse -r /tmp/requirements.txt

# deps: whichever source was chosen, checked for consistency, then slimmed: pip itself, the
# packages' own test suites, torch's C++ headers and test binaries (about 350 MB) go; the import
# check proves the runtime still loads.
# DL3006 (untagged FROM) does not apply: deps-${PIP_SOURCE} names a stage of this file.
# hadolint ignore=DL3006
FROM deps-${PIP_SOURCE} AS deps
RUN /opt/venv/bin/python -m pip check \
    && /opt/venv/bin/python -m pip uninstall --yes --quiet pip \
    && site="$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
    && find "${site}" -mindepth 2 -type d -name tests -prune -exec rm -rf {} + \
    && rm -rf "${site}"/torch/test "${site}"/torch/include "${site}"/pyarrow/include \
        "${site}"/torch/bin/protoc* "${site}"/torch/bin/*Test "${site}"/torch/bin/test_* \
    && /opt/venv/bin/python -c "import flask, gunicorn, matplotlib, numpy, openpyxl, pandas, \
pyarrow.parquet, scipy, sklearn, torch, xgboost"

# ---------------------------------------------------------------------------------------------
# native: the compiled tree walker (retailsage.models._treewalk), built for the base image's
# Python. Index mode compiles it here with the distribution's gcc; wheelhouse mode (no network)
# takes the one scripts/build_image.sh compiled on the host into build/native/.
FROM ${BASE_IMAGE} AS native-index
# The official python images carry Python.h; a base with Debian's python3 needs python3-dev.
# DL3008: gcc is a build tool of this throwaway stage, whatever Debian's current version is.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && include="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
    && if [ ! -f "${include}/Python.h" ]; then \
        apt-get install -y --no-install-recommends python3-dev; \
    fi \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/build_native.sh container/retailsage/models/_treewalk.c /tmp/native/
RUN sh /tmp/native/build_native.sh /tmp/native/_treewalk.c /opt/native

FROM ${BASE_IMAGE} AS native-wheelhouse
COPY build/native/ /opt/native/

# DL3006 (untagged FROM) does not apply: native-${PIP_SOURCE} names a stage of this file.
# hadolint ignore=DL3006
FROM native-${PIP_SOURCE} AS native

# ---------------------------------------------------------------------------------------------
# runtime: the base image, the finished venv and the program; no pip, no wheels, no compilers.
FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="retailsage" \
      org.opencontainers.image.description="SageMaker train + serve image for retail ML" \
      org.opencontainers.image.licenses="Apache-2.0" \
      com.amazonaws.sagemaker.capabilities.accept-bind-to-port="true"
ENV PYTHONUNBUFFERED=TRUE \
    PYTHONDONTWRITEBYTECODE=TRUE \
    PATH="/opt/venv/bin:${PATH}" \
    PYTHONPATH=/opt/program \
    RETAILSAGE_PROGRAM_DIR=/opt/program \
    RETAILSAGE_SERVE_USER=retailsage \
    MPLBACKEND=Agg
# The unprivileged account `serve` drops to (entrypoint.sh); `train` stays root because
# SageMaker mounts /opt/ml/{model,output,checkpoints} root-owned.
RUN groupadd --system --gid 10001 retailsage \
    && useradd --system --uid 10001 --gid retailsage --create-home \
        --home-dir /home/retailsage --shell /usr/sbin/nologin retailsage
COPY --from=deps /opt/venv /opt/venv
COPY container/retailsage /opt/program/retailsage
COPY --from=native /opt/native/ /opt/program/retailsage/models/
# Bytecode compiled once here: at run time PYTHONDONTWRITEBYTECODE keeps the tree read-only.
# The import proves the compiled tree walker loads with this Python (else: xgboost's predictor).
RUN python3 -m compileall -q /opt/program/retailsage \
    && python3 -c "from retailsage.models import _treewalk"
COPY --chmod=0755 container/train container/serve container/featurize /opt/program/
COPY --chmod=0755 entrypoint.sh /entrypoint.sh
WORKDIR /opt/program
EXPOSE 8080
ENTRYPOINT ["/entrypoint.sh"]
