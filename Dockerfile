# The callvault worker image. Build: docker build -t callvault .   (docker-compose.yml does it for you)
# Same steps as a checkout: npm ci, npm run build (compiles, and bundles the workflows once so a
# worker starts in a second); the runtime stage keeps only production dependencies and dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
# MALLOC_ARENA_MAX: see WORKER_ENV in src/worker/runtime.ts.
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
# Configuration: CALLVAULT_CONFIG names the file (mount it), TEMPORAL_ADDRESS, DATABASE_URL,
# S3_ENDPOINT and S3_BUCKET override it per deployment; secrets come from the environment or
# files the configuration names. Role: CALLVAULT_WORKER_ROLE=all|workflows|transfers.
CMD ["node", "--max-semi-space-size=2", "--heap-growing-percent=50", "--expose-gc", "dist/src/cli/main.js", "worker"]
