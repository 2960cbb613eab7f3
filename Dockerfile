# The gateway app image. docker-compose.yml runs it against a real drachtio-server.
FROM node:20-bookworm-slim AS build
WORKDIR /srv
COPY package.json package-lock.json tsconfig.json ./
COPY gateway/package.json gateway/tsconfig.json gateway/
COPY softphone softphone/
COPY test/package.json test/
RUN npm ci --workspace gateway --workspace softphone --include-workspace-root
COPY gateway/src gateway/src
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /srv
ENV NODE_ENV=production
COPY --from=build /srv/node_modules node_modules
COPY --from=build /srv/gateway/dist gateway/dist
COPY --from=build /srv/softphone/dist softphone/dist
COPY gateway/package.json gateway/
USER node
ENTRYPOINT ["node", "gateway/dist/cli/index.js"]
CMD ["app"]
