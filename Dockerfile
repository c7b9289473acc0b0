# contextbridge service image: `docker compose -f examples/docker-compose.yml up`
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contextbridge ./contextbridge
COPY ontologies ./ontologies
RUN pip install --no-cache-dir .
COPY mappings ./mappings
COPY examples ./examples
EXPOSE 8080
CMD ["contextbridge", "serve", "examples/compose/contextbridge.yaml", "--state", "/state"]
