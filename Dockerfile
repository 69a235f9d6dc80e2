# voxfarm image: API, control and worker services all run from it (docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY core core
COPY worker worker
COPY webhooks webhooks
COPY migrations migrations
COPY cli cli
COPY celery_config.py ./
# torch 2.11 CUDA wheels carry their CUDA runtime; on a CPU-only host they run on the CPU
RUN pip install ".[all]"
EXPOSE 8000
CMD ["voxfarm", "api", "--host", "0.0.0.0", "--port", "8000"]
