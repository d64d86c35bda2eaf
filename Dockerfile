# syntax=docker/dockerfile:1
#
# The wazzup-gateway image: the release binary and CA certificates on a distroless base, running
# as a numeric non-root user with a read-only root filesystem in mind (it writes only to its data
# directory, /var/lib/wazzup-gateway, and /tmp).
#
#   docker build -t registry.example.com/wazzup-gateway:0.1.0 .
#   docker run --read-only --tmpfs /tmp -p 50051:50051 -p 8080:8080 -p 9090:9090 \
#     registry.example.com/wazzup-gateway:0.1.0          # the built-in sandbox
#
# The Helm chart (helm/wazzup-gateway) replaces the command with `serve --config FILE`.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
# No system protoc is needed: build.rs compiles proto/ with protox.
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
COPY third_party ./third_party
COPY src ./src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin wazzup-gateway \
    && install -D -m 0755 target/release/wazzup-gateway /out/wazzup-gateway \
    && install -d -m 0700 -o 65532 -g 65532 /out/data

# glibc and libgcc for the binary, /etc/passwd with user 65532 ("nonroot"), nothing else: no shell,
# no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/wazzup-gateway /usr/local/bin/wazzup-gateway
COPY --from=build --chown=65532:65532 /out/data /var/lib/wazzup-gateway
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
# gRPC (internal), webhooks (the only public port), admin (/healthz, /readyz, /metrics).
EXPOSE 50051 8080 9090
# The embedded event log and idempotency records.
VOLUME ["/var/lib/wazzup-gateway"]
ENTRYPOINT ["/usr/local/bin/wazzup-gateway"]
# Flags win over WGW_* variables and the config file; the chart passes `serve --config FILE` instead.
CMD ["serve", "--grpc-listen", "0.0.0.0:50051", "--webhook-listen", "0.0.0.0:8080", \
     "--admin-listen", "0.0.0.0:9090", "--data-dir", "/var/lib/wazzup-gateway"]
