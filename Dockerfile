# syntax=docker/dockerfile:1
# crumb in a container: a release build in the Rust image, then the binary alone on a
# distroless base (glibc and libgcc only: the SQLite ledger is bundled, TLS is rustls), run as
# an unprivileged user. The key comes in as a file (a secret), never as an argument.
#
#   docker build -t crumb .
#   crumb keygen --out crumb.key      # on the host: the key, mode 0600
#   docker run --rm -p 7878:7878 -v crumb-data:/var/lib/crumb \
#     -v "$PWD/crumb.key:/run/secrets/crumb_key:ro" -e CRUMB_KEY_FILE=/run/secrets/crumb_key crumb
#
# (The key file must be readable by the image's user, uid 65532; compose.yaml shows two
# replicas on a shared PostgreSQL ledger.)

FROM rust:1.89-bookworm AS build
WORKDIR /src
# The manifest names the benches, so they come along (they are not built).
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
COPY examples ./examples
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin crumb \
    && install -D -m 0755 target/release/crumb /out/crumb \
    && install -d -m 0700 /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/crumb /usr/local/bin/crumb
# The data directory (the SQLite ledger when no CRUMB_LEDGER names a shared one): the user's
# own and 0700, as crumb requires of a directory a key may be read from. A volume mounted here
# starts with this owner and mode.
COPY --from=build --chown=65532:65532 /out/data /var/lib/crumb
ENV CRUMB_DATA_DIR=/var/lib/crumb
WORKDIR /var/lib/crumb
USER nonroot:nonroot
EXPOSE 7878
# /healthz without a shell or curl in the image: crumb asks itself.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/crumb", "doctor", "--only", "server", "--server", "http://127.0.0.1:7878"]
ENTRYPOINT ["/usr/local/bin/crumb"]
CMD ["serve", "--listen", "0.0.0.0:7878"]
