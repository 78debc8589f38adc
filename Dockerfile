# The Tandem worker (also the participant portal and the codec server: same image, other commands,
# see docker-compose.yml). The image carries no server binaries it does not need at run time: Temporal
# and PostgreSQL are separate services in docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY eventstore ./eventstore
COPY localstack ./localstack
COPY tandem ./tandem
COPY portal ./portal
COPY worker.py starter.py ./
RUN pip install .
RUN useradd --system --uid 10001 tandem
USER tandem
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
