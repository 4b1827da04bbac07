# modelyard's image: the proxy and the supervisor (the command picks the role), in a venv at
# /opt/modelyard, run as an unprivileged user whose home (/var/lib/modelyard) holds the state
# dir, logs and caches.
#
#   docker build -t modelyard .                           # on the public Python base
#   docker build --build-arg EXTRAS=speech -t modelyard .  # + the speech sidecars (compose.yaml)
#   docker run -v ./my.yaml:/etc/modelyard/servers.yaml:ro -p 4000:4000 modelyard
#
# BASE must be Debian-like with python3 >= 3.11 and its venv module. The tests build on a local
# Debian bookworm rootfs (harness/base_image.py): --build-arg BASE=local/base:bookworm.
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
ARG EXTRAS=""
# PEM certificates pip should trust besides the base's own, for a network whose proxy
# re-signs TLS (the tests pass the host's /usr/local/share/ca-certificates). This stage only:
# they never reach the image or its history.
ARG CA_CERTS=""
COPY . /src
# Wheels only (every dependency ships manylinux wheels), so no compiler is needed; no pip cache
# is kept, and only the venv leaves this stage.
RUN if [ -n "$CA_CERTS" ]; then \
        { cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null; printf '%s\n' "$CA_CERTS"; } \
            > /tmp/ca.pem \
        && export PIP_CERT=/tmp/ca.pem; \
    fi \
    && python3 -m venv /opt/modelyard \
    && /opt/modelyard/bin/pip install --no-cache-dir --disable-pip-version-check --quiet \
        "/src${EXTRAS:+[$EXTRAS]}"

FROM ${BASE}
ARG EXTRAS=""
# espeak-ng: the TTS sidecar's voices for the nine Indian languages (only with EXTRAS=speech).
RUN if [ "${EXTRAS#*speech}" != "$EXTRAS" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends espeak-ng \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 modelyard \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/modelyard \
        --shell /usr/sbin/nologin modelyard \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/modelyard \
    && install -d -m 0755 /etc/modelyard
COPY --from=build /opt/modelyard /opt/modelyard

# MODELYARD_HOME: state/ (servers.json, the lock, logs/NAME.log), models/, stt-models/; mount a
# volume here to keep them. HF_HOME: where a server started as a process (subprocess mode, in an
# image that has vLLM) keeps downloaded models.
ENV PATH=/opt/modelyard/bin:$PATH \
    HOME=/var/lib/modelyard \
    MODELYARD_HOME=/var/lib/modelyard \
    HF_HOME=/var/lib/modelyard/hf-cache \
    MODELYARD_CONFIG=/etc/modelyard/servers.yaml \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/modelyard

# The proxy (proxy.port) and the supervisor's admin API (supervisor.port), as in servers.yaml.
EXPOSE 4000 4100
# No curl in the image: Python asks each /health (both answer without a key or token from
# loopback); any error or non-2xx (503 while draining) fails. `modelyard up` serves both; a
# container running only one role sets MODELYARD_HEALTH_URLS to its own (compose.yaml does).
ENV MODELYARD_HEALTH_URLS="http://127.0.0.1:4000/health http://127.0.0.1:4100/health"
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; [u.urlopen(url, timeout=4).close() for url in os.environ['MODELYARD_HEALTH_URLS'].split()]"]

# `modelyard up` runs both roles; `modelyard supervisor` / `modelyard proxy` one each. Every
# role reads its config from --config; mount yours at /etc/modelyard/servers.yaml.
ENTRYPOINT ["modelyard"]
CMD ["up", "--config", "/etc/modelyard/servers.yaml"]
