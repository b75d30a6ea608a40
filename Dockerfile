# Postfach container image: `docker build -t postfach .` (see README, section Docker).
# Stage 1 builds with the dev dependencies and the native modules (argon2, better-sqlite3), the server and the admin UI;
# stage 2 runs the compiled dist/ (server and UI) with production dependencies only, as the unprivileged user `postfach`.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# node-gyp takes the headers shipped in the image instead of downloading them
ENV npm_config_nodedir=/usr/local
# compilers for native modules that have no prebuilt binary for this platform
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# sources come later: install without the `prepare` build, then build the native modules
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild argon2 better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY server server
COPY plugins plugins
COPY admin-ui admin-ui
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    POSTFACH_DATA_DIR=/var/lib/postfach \
    POSTFACH_SMTP_PORT=25 \
    POSTFACH_SUBMISSION_PORT=587 \
    POSTFACH_SUBMISSIONS_PORT=465 \
    POSTFACH_IMAP_PORT=143 \
    POSTFACH_IMAPS_PORT=993 \
    POSTFACH_POP3_PORT=110 \
    POSTFACH_POP3S_PORT=995 \
    POSTFACH_HTTP_PORT=8080
# ports below 1024 for a non-root user: the capability on the node binary (or map high ports, see README)
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(readlink -f /usr/local/bin/node)" \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system postfach \
 && useradd --system --gid postfach --home-dir /var/lib/postfach --shell /usr/sbin/nologin postfach \
 && mkdir -p /var/lib/postfach \
 && chown postfach:postfach /var/lib/postfach
WORKDIR /opt/postfach
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY config ./config
RUN ln -s /opt/postfach/bin/postfach.js /usr/local/bin/postfach
USER postfach
VOLUME /var/lib/postfach
EXPOSE 25 465 587 143 993 110 995 80 443 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["node", "dist/server/main.js", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/server/main.js"]
CMD ["serve"]
