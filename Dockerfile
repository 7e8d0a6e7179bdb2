# notebook-trigger for Cloud Run.
#
# Build stage: dependencies are compiled in their own layer, against stub sources, so a change
# to src/ rebuilds only this crate (the same effect as cargo-chef, without installing a tool).
# The build image is Debian 12 (bookworm), like the runtime, so the binary needs no newer
# glibc than the runtime has.
FROM rust:1.95-bookworm AS build
WORKDIR /build
COPY Cargo.toml Cargo.lock ./
COPY crates/notebooks-wire/Cargo.toml ./crates/notebooks-wire/
COPY crates/storage-client/Cargo.toml ./crates/storage-client/
COPY crates/notebooks-emulator/Cargo.toml ./crates/notebooks-emulator/
COPY bench/Cargo.toml ./bench/
# Cargo refuses a workspace whose members or declared targets (the criterion bench, the load
# benchmark's programs) are missing, even when it does not build them: stubs stand in for the
# sources of every member, and the bench is copied as it is.
COPY benches ./benches
RUN for member in . crates/notebooks-wire crates/storage-client crates/notebooks-emulator bench; do \
        mkdir -p "$member/src/bin" && touch "$member/src/lib.rs" \
        && echo 'fn main() {}' > "$member/src/main.rs"; \
    done \
    && echo 'fn main() {}' > bench/src/bin/bare_axum.rs \
    && cargo build --release --locked -p notebook-trigger \
    && rm -rf src crates/*/src bench/src
COPY crates ./crates
COPY bench ./bench
COPY src ./src
# COPY keeps the files' own times, which may be older than the stub build: touch them so
# cargo rebuilds the workspace's crates for real.
RUN find src crates bench -name '*.rs' -exec touch {} + \
    && cargo build --release --locked -p notebook-trigger

# Runtime: glibc, libgcc, CA certificates and tzdata, nothing else; runs as the image's "nonroot" user, uid 65532.
# deploy/check-binary.sh checks that the binary needs no other shared library.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /build/target/release/notebook-trigger /usr/local/bin/notebook-trigger
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/notebook-trigger"]
