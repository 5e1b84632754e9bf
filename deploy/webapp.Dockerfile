# The web app: Flask + gunicorn serving the dashboard and Server-Sent Events.
# Build context: the repository root (make build-and-push):
#   docker build -f deploy/webapp.Dockerfile .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=8080

WORKDIR /app

# The web app imports contract.catalog (topic and stream names), not Beam.
COPY setup.py ./
COPY contract/ ./contract/
COPY webapp/ ./webapp/
RUN pip install '.[webapp]'

RUN useradd --system --uid 10001 app
USER app

EXPOSE 8080
CMD ["gunicorn", "-c", "webapp/gunicorn_conf.py", "webapp.app:create_app()"]
