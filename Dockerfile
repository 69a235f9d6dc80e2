# voxfarm images, two targets from one file (docker-compose.yml builds both):
#   slim  API, control worker and the espeak worker: no torch (a few hundred MB)
#   gpu   the Dia worker: torch 2.11 CUDA wheels, which carry their own CUDA runtime (~5 GB)
# Both run as the unprivileged user `voxfarm`; data (stitch scratch, beat schedule) lives in
# /var/lib/voxfarm, owned by it.  `docker build .` builds the last stage: slim.
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VOXFARM_DATA_DIR=/var/lib/voxfarm HF_HUB_OFFLINE=1
RUN groupadd --system --gid 10001 voxfarm \
 && useradd --system --uid 10001 --gid voxfarm --home-dir /home/voxfarm --create-home voxfarm \
 && install -d -o voxfarm -g voxfarm /var/lib/voxfarm
WORKDIR /app
COPY pyproject.toml README.md __main__.py celery_config.py broker_fs.py ./
COPY api api
COPY core core
COPY worker worker
COPY webhooks webhooks
COPY migrations migrations
COPY cli cli

FROM base AS gpu
RUN pip install ".[worker,dia]"
USER voxfarm
CMD ["voxfarm", "worker", "--engine", "dia"]

FROM base AS slim
RUN pip install ".[api,worker]"
USER voxfarm
EXPOSE 8000
CMD ["voxfarm", "api", "--host", "0.0.0.0", "--port", "8000"]
