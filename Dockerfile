# labgate in a small container: built with the pinned Rust toolchain (the same version as
# `rust-version` in Cargo.toml), run from `scratch` with only the binary, the C libraries it links,
# and passwd/group lines for its fixed uid:gid 10001:10001. The data lives in the /data volume.
#
# podman keeps the HEALTHCHECK only with `podman build --format docker`.

FROM rust:1.95-bookworm AS build
WORKDIR /src

# Dependencies first, in a layer that changes only with Cargo.toml or Cargo.lock. They are built
# for a placeholder crate; then everything cargo kept of the placeholder (its artifacts and its
# fingerprints) is removed, so the real sources below are always compiled, whatever their mtimes.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/micro.rs \
    && cargo build --release --locked \
    && rm -rf src benches \
        target/release/labgate target/release/labgate.d \
        target/release/liblabgate.* \
        target/release/deps/labgate-* target/release/deps/liblabgate-* \
        target/release/.fingerprint/labgate-* \
        target/release/incremental/labgate-*

# .dockerignore lets in only what the build needs. A placeholder binary would have no
# subcommands: fail here rather than ship it.
COPY . .
RUN cargo build --release --locked \
    && target/release/labgate --help | grep -q healthcheck

# The runtime tree: the binary, exactly the shared libraries it links (as ldd lists them, for
# whatever architecture this is), the user, an empty /tmp; /data separately, owned by 10001.
RUN mkdir -p /rootfs/usr/local/bin /rootfs/etc /rootfs/tmp /data-owned/data \
    && cp target/release/labgate /rootfs/usr/local/bin/labgate \
    && ldd target/release/labgate | grep -o '/[^ ]*' | sort -u \
        | xargs -I '{}' cp --parents --dereference '{}' /rootfs \
    && echo 'labgate:x:10001:10001:labgate:/data:/nonexistent' > /rootfs/etc/passwd \
    && echo 'labgate:x:10001:' > /rootfs/etc/group \
    && chmod 1777 /rootfs/tmp \
    && chmod 0700 /data-owned/data

FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=10001:10001 /data-owned/ /
USER 10001:10001
ENV PATH=/usr/local/bin \
    LABGATE_DATA=/data \
    LABGATE_ADDRESS=0.0.0.0 \
    LABGATE_PORT=8000
VOLUME /data
EXPOSE 8000
# Asks /alive on LABGATE_ADDRESS:LABGATE_PORT (loopback for 0.0.0.0); exit 0 healthy, 1 not.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/labgate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/labgate"]
CMD ["serve"]
