# syntax=docker/dockerfile:1
# The PAKE image: the `pake` binary (crates/cli) on distroless `cc` (glibc, libgcc_s, CA
# certificates; no shell, no package manager), running as 65532:65532 (the Helm chart's
# podSecurityContext). Works with a read-only root filesystem: PAKE writes only to its data dir
# /var/lib/pake and to /tmp, which the chart mounts as volumes. docs/deploy.md "The image".
#
#   docker buildx build -t registry.example.com/pake/pake:0.1.0 --push .
#
# deploy/image/build-rootfs assembles the same filesystem without a container engine; CI runs
# pake inside it (crates/cli/tests/image_rootfs.rs) and lints this file (.ci/validate-deploy).

# Bookworm to match the runtime's glibc (distroless debian12); the Rust release CI builds with.
FROM rust:1.95.0-bookworm AS builder
WORKDIR /src
COPY . .
# The registry and the target dir are build caches, not layers: an edit rebuilds only PAKE.
RUN --mount=type=cache,id=pake-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=pake-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=pake-target,target=/src/target,sharing=locked \
    cargo build --release --locked -p pake \
    && install -D -m 0755 target/release/pake /out/usr/local/bin/pake \
    && install -d -m 0700 /out/var/lib/pake \
    && install -d -m 0755 /out/etc/pake

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="pake" \
      org.opencontainers.image.description="PAKE, a gRPC knowledge engine: identity, knowledge, search and the JSON edge in one binary" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=builder --chown=0:0 /out/usr/local/bin/pake /usr/local/bin/pake
# The data dir belongs to the runtime user, so `docker run` works without a volume; the chart
# mounts one here (identity's signing keys, search's index).
COPY --from=builder --chown=65532:65532 /out/var/lib/pake /var/lib/pake
COPY --from=builder --chown=0:0 /out/etc/pake /etc/pake
ENV PAKE_DATA_DIR=/var/lib/pake \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /
# gRPC (identity, knowledge, search), the edge's HTTP, Prometheus metrics. PAKE listens on
# loopback unless told otherwise: the chart sets 0.0.0.0; with `docker run` pass
# --grpc-listen 0.0.0.0:50051 --http-listen 0.0.0.0:8080.
EXPOSE 50051 8080 9464
ENTRYPOINT ["/usr/local/bin/pake"]
CMD ["serve"]
