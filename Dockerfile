# One image for the API, the worker and migrations; docker-compose.yml picks the command.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# Workers start from a prebuilt workflow bundle instead of running webpack at start.
RUN npm run bundle -- /app/dist/workflow-bundle.js
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
USER node
EXPOSE 8000
CMD ["npm", "run", "api"]
