# labgate in one small container: build with the Rust toolchain, run on Debian slim as a
# non-root user with the data directory on a volume.

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits reuse this layer.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/deps/labgate* target/release/labgate*
COPY schema.sql ./
COPY web ./web
COPY src ./src
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin labgate \
    && mkdir /data && chown labgate:labgate /data && chmod 0700 /data
COPY --from=build /src/target/release/labgate /usr/local/bin/labgate
USER labgate
ENV LABGATE_DATA=/data \
    LABGATE_ADDRESS=0.0.0.0 \
    LABGATE_PORT=8000
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/alive || exit 1
ENTRYPOINT ["/usr/local/bin/labgate"]
CMD ["serve"]
