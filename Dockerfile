# ralph-watch in a container.
#
#   docker build -t ralph-watch .
#   docker compose up -d            (see compose.yaml)
#
# The config lives at /config/config.yaml (mount it read-only), with at least:
#   inbox: /data/inbox
#   state_dir: /data/state
#   web: {host: 0.0.0.0, port: 8080, password: "${RALPH_WATCH_PASSWORD}"}
# The service binds loopback (127.0.0.1) by default, which a published container port
# cannot reach; so in a container set web.host: 0.0.0.0, and ralph-watch then refuses
# to start without web.password. Publish the port on the host's loopback only
# (127.0.0.1:8080:8080) and keep TikTok's redirect_uri http://127.0.0.1:8080/callback.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY ralph_watch ./ralph_watch
# [notify] adds Apprise for notify.urls; PyAV's wheel brings its own FFmpeg.
RUN pip install ".[notify]" && rm -rf /src

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/ralph ralph \
    && mkdir -p /data/inbox /data/state /config \
    && chown ralph:ralph /data/inbox /data/state
WORKDIR /home/ralph
USER ralph

VOLUME ["/data/inbox", "/data/state"]
EXPOSE 8080

# No curl in the slim image: ask /healthz with Python (503 raises, so the exit code is 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

# SIGTERM (docker stop) is a clean shutdown; give it the 20 s of compose's stop_grace_period.
STOPSIGNAL SIGTERM
ENTRYPOINT ["ralph-watch"]
CMD ["run", "-c", "/config/config.yaml"]
