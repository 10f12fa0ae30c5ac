# syntax=docker/dockerfile:1
# The Predis image: every service is this image running `predis serve NAME` (and the dashboard,
# `predis dashboard`), as `predis up` runs them on one machine. compose.yaml builds it.
#
#   CPU (default):  docker build -t predis:dev .
#   GPU:            docker build -t predis:gpu \
#                     --build-arg BASE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 --build-arg EXTRAS=gpu .
#
# The GPU variant installs the `gpu` extra (CuPy, for PREDIS_CACHE_BACKEND=cupy) and swaps ONNX
# Runtime for its CUDA build (onnxruntime-gpu, which needs the cuDNN of a `cudnn-runtime` base);
# run it with the GPU given to the container (docker run --gpus all, or deploy/compose.gpu.yaml).

# A base image with a Python 3.11 or later: python:3.11-slim has one; the CUDA images do not, so
# their distribution's python3 is installed. Both stages below start from this one, so that the
# virtual environment built in the first finds the same interpreter at the same path in the second.
ARG BASE=python:3.11-slim

FROM ${BASE} AS base
RUN if ! command -v python3 >/dev/null 2>&1; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -c 'import sys; assert sys.version_info >= (3, 11), f"Predis needs Python 3.11 or later, not {sys.version}"'

# --- build: the wheel, installed with its dependencies into a virtual environment ----------------
FROM base AS build
ARG EXTRAS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/predis
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sdk sdk
COPY services services
COPY plugins plugins
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/predis/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && wheel="$(ls /wheels/predis-*.whl)" \
    && /opt/predis/bin/pip install "${wheel}${EXTRAS:+[${EXTRAS}]}" \
    && case ",${EXTRAS}," in \
         *,gpu,*) /opt/predis/bin/pip uninstall -y onnxruntime && /opt/predis/bin/pip install onnxruntime-gpu ;; \
       esac

# --- runtime: the interpreter, the virtual environment and a user; no build tools, no sources ----
FROM base AS runtime
# /var/lib/predis holds the data directory and the predictor's state (named volumes in compose:
# a new volume takes this folder's owner, so the service user can write to it); /var/cache/predis
# Numba's compiled kernels and CuPy's.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/predis --shell /usr/sbin/nologin predis \
    && install -d -o predis -g predis /var/lib/predis/data /var/lib/predis/predictor-state /var/cache/predis
COPY --from=build /opt/predis /opt/predis
ENV PATH=/opt/predis/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    XDG_CACHE_HOME=/var/cache/predis \
    CUPY_CACHE_DIR=/var/cache/predis/cupy \
    PREDIS_DATA_DIR=/var/lib/predis/data \
    PREDIS_PREDICTOR_STATE_DIR=/var/lib/predis/predictor-state \
    PREDIS_SERVICE=cache
USER predis
WORKDIR /home/predis
# Every service's Numba kernels (the engine's, the shadow's, replay's, drift's), compiled now into
# the service user's cache folder, so that a service starts without compiling. Numba compiles for
# the build machine's CPU: on a different CPU the service compiles once at start, into the same
# folder, which stays writable.
RUN python -m predis.services.precompile
EXPOSE 50051 50052 50053 50054 6379 9451 9452 9453 9454 8080
# The service this container runs: `predis status` checks it on its own port. Set PREDIS_SERVICE
# with the command when running another one (compose.yaml does).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD predis status --only "${PREDIS_SERVICE}"
CMD ["predis", "serve", "cache", "--listen", "0.0.0.0:50051"]
