# syntax=docker/dockerfile:1
# nod in a container: the one-file binary on a small Debian image.
#
#   docker build -t nod --build-arg NOD_COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker run -d --name nod -p 8000:8000 -v nod-data:/data nod
#
# Multi-arch (the build stage compiles for the platform it runs on):
#   docker buildx build --platform linux/amd64,linux/arm64 -t you/nod .

ARG BUN_VERSION=1.4.5

# --- build: compile server, migrations and inbox into one executable ---------
FROM oven/bun:${BUN_VERSION} AS build
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production
COPY . .
# No .git in the build context: the commit comes in as a build argument.
ARG NOD_COMMIT=unknown
RUN NOD_COMMIT="${NOD_COMMIT}" bun run build --outfile /out/nod && /out/nod version

# --- runtime: glibc, CA certificates for https webhooks, and nod -------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 nod \
 && useradd --system --uid 10001 --gid nod --home-dir /data --no-create-home --shell /usr/sbin/nologin nod \
 && mkdir -p /data && chown nod:nod /data
COPY --from=build /out/nod /usr/local/bin/nod

ENV NOD_DATA_DIR=/data \
    NOD_HOST=0.0.0.0 \
    NOD_PORT=8000
# Set NOD_PUBLIC_URL (e.g. https://nod.example.com) so trigger and image links point at the right place.

USER nod
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# The image has no curl: nod checks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["nod", "healthcheck"]
# nod finishes in-flight requests, closes sockets and the database, and exits 0.
STOPSIGNAL SIGTERM

ENTRYPOINT ["nod"]
CMD ["serve"]
