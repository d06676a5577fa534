# Paperboy in a container: one bot, its SQLite database on the volume /data.
# Build: docker build -t paperboy .    Run: docker compose up -d (see README, "Docker").
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAPERBOY_DB=/data/paperboy.db \
    PAPERBOY_HTTP_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY adapters ./adapters
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin paperboy \
    && mkdir /data \
    && chown paperboy /data

USER paperboy
WORKDIR /data
VOLUME ["/data"]

# /healthz on the loopback listener (PAPERBOY_HOST defaults to 127.0.0.1): 200 while the scheduler runs
# and the last poll is recent, 503 otherwise, which urlopen raises on. Python's urllib: the image has no curl.
HEALTHCHECK --interval=60s --timeout=10s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PAPERBOY_HTTP_PORT', '8080'), timeout=5)"]

# SIGTERM (docker stop) stops it cleanly: the post in flight finishes (at most 10 s), connections close, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["paperboy"]
CMD ["run"]
