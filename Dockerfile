# cohort-sync: one image for the API server, the workers and `migrate` (docs/deploy.md).
# Base images cannot be pulled on the machines this was written on; what could be checked without Docker is
# listed in docs/deploy.md ("What was verified here").

# --- build: all dependencies (better-sqlite3 compiles; Vite builds the web UI), then production ones only ---
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY scripts ./scripts
COPY web ./web
# npm ci compiles better-sqlite3 and (postinstall) builds the web UI into web/dist.
RUN npm ci
COPY bin ./bin
COPY src ./src
RUN npm run build:web -- --if-stale && npm prune --omit=dev

# --- runtime: no compiler, no dev dependencies, not root ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/bin ./bin
COPY --from=build --chown=root:root /app/src ./src
COPY --from=build --chown=root:root /app/web/dist ./web/dist
RUN mkdir -p /data && chown node:node /data
# The image's files stay root-owned and read-only to the process; it writes only to /data and /tmp.
USER node
EXPOSE 8080 9090
# node is PID 1: `cohort-sync` handles SIGTERM and SIGINT itself (stops taking work, hands leases back,
# closes the store) and exits 0. Give it the time a graceful stop needs (docker stop -t / stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/cohort-sync.js"]
CMD ["serve"]
