# The connector: Flask control API under gunicorn, one process holding the Tote websocket.
# Build context: the repository root (make build-and-push):
#   docker build -f deploy/connector.Dockerfile .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=8080

WORKDIR /app

# The connector imports contract.catalog and contract.ingress (the shared contract), not Beam.
COPY setup.py ./
COPY contract/ ./contract/
COPY connector/ ./connector/
RUN pip install '.[connector]'

# Never root at run time.
RUN useradd --system --uid 10001 app
USER app

EXPOSE 8080
CMD ["gunicorn", "-c", "connector/gunicorn_conf.py", "connector.api:create_app()"]
