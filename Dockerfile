# Keyhold's image: gunicorn serves the web process; the same image runs the Celery
# worker and beat (docker-compose.yml chooses the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KEYHOLD_DATA_DIR=/app/data \
    WEB_CONCURRENCY=3

RUN useradd --create-home --uid 10001 --user-group keyhold
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

# The code stays root's: the app user can write only its data folder.
COPY . .
# The settings refuse a placeholder SECRET_KEY with DEBUG off; this one exists only
# for this step, which needs no secrets.
RUN DEBUG=false \
    SECRET_KEY=collectstatic-during-image-build-only-not-a-deployment-key \
    KEYHOLD_MASTER_KEYS=$(python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())") \
    python manage.py collectstatic --no-input --verbosity 0 \
    && mkdir -p /app/data && chown -R keyhold:keyhold /app/data

USER keyhold
EXPOSE 8000
CMD ["gunicorn", "console.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
