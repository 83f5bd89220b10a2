# The reference server (src/main.ts): the module, the demo agent, dev sign-in and the page.
# Node 22: nestjs-pino 5 and file-type 22 (through @nestjs/common) need Node >= 22.12.
FROM node:22-bookworm-slim AS build
WORKDIR /app
# The workspace packages' manifests come before `npm ci`, which links them.
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY packages ./packages
COPY src ./src
COPY scripts ./scripts
RUN npm run build

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# node_modules as installed, devDependencies included: NestJS, nestjs-pino and pino are
# devDependencies (and peers) of the library but the reference server runs on them, so
# `npm prune --omit=dev` would leave a server that cannot start.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/packages/client/package.json ./packages/client/
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY --from=build /app/dist ./dist
# Files stay root-owned and read-only to the server, which runs as the image's `node` user.
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
