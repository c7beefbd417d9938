# syntax=docker/dockerfile:1
# Streamgate gateway image. Build: `docker build -t streamgate .`; run the whole stack with
# `docker compose up` (docker-compose.yml: Redis + MinIO + gateway).
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile src/ to dist/ --------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies, dist/ and bin/ only -------------------------------------
FROM ${NODE_IMAGE} AS runtime
# Debian's ffmpeg (5.1) does the media remuxing; slim images have no curl, so the health check uses node.
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production \
  STREAMGATE_DATA_DIR=/var/lib/streamgate \
  FFMPEG_PATH=/usr/bin/ffmpeg

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# bin/streamgate.js only rebuilds when src/ exists; the image has no src/, so it runs dist/cli.js as is.
COPY bin ./bin
COPY public ./public

# Owned by `node` so a fresh named volume mounted here (docker-compose.yml) starts out writable.
RUN mkdir -p /var/lib/streamgate && chown node:node /var/lib/streamgate
USER node

# HTTP API + HLS + ops (8080), RTMP ingest (1935). RTSP cameras are pulled (outbound).
EXPOSE 8080 1935

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.STREAMGATE_HTTP_PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

STOPSIGNAL SIGTERM
CMD ["node", "bin/streamgate.js", "serve"]
