# syntax=docker/dockerfile:1

# Build: compile TypeScript to dist/ (tsconfig.build.json, dist/src/main.js).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime: production dependencies, the compiled code and the .proto files, run as `node`.
FROM node:24-slim
ENV NODE_ENV=production
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Loaded at run time from <app>/proto, next to dist/ as in the repository.
COPY proto ./proto
USER node
# 9092: AudioSocket (TCP) from Asterisk; 8080: /metrics, /healthz, /readyz.
EXPOSE 9092 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# main.ts drains on SIGTERM: set the orchestrator's stop timeout above DRAIN_TIMEOUT_MS.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
