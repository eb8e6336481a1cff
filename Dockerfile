# FinEdge backend, edge agent and device simulators: one image, the command picks the role.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# libgomp1: OpenMP runtime used by scikit-learn and the prebuilt dlib wheel.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY backend ./backend
COPY edge ./edge
COPY devices ./devices
COPY miniapp_api ./miniapp_api
COPY bench ./bench
COPY web ./web

# Pinned versions from constraints.txt. face_recognition declares "dlib", which PyPI has only
# as source (a long compile); dlib-bin, a pinned dependency, provides the same module, so
# face_recognition itself goes in without its dependencies.
RUN pip install -c constraints.txt . \
    && pip install -c constraints.txt --no-deps face_recognition \
    && python -c "import face_recognition, dlib, amqtt, paho.mqtt, sqlalchemy, flask_smorest"

RUN useradd --system --uid 10001 --home-dir /app finedge \
    && mkdir -p /app/var \
    && chown finedge /app/var
USER finedge
ENV FINEDGE_VAR_DIR=/app/var

EXPOSE 5000
CMD ["finedge", "web", "--host", "0.0.0.0", "--port", "5000"]
