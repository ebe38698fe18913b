FROM python:3.11-slim
WORKDIR /srv/distillguard
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY detectors ./detectors
COPY migrations ./migrations
RUN pip install --no-cache-dir .
ENV DISTILLGUARD_DATABASE_URL=sqlite:////data/distillguard.db
EXPOSE 8000
CMD ["distillguard", "serve", "--host", "0.0.0.0", "--port", "8000"]
