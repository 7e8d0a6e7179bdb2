# notebook-trigger for Cloud Run.
#
# Build stage: dependencies are compiled in their own layer, against stub sources, so a change
# to src/ rebuilds only this crate (the same effect as cargo-chef, without installing a tool).
# The build image is Debian 12 (bookworm), like the runtime, so the binary needs no newer
# glibc than the runtime has.
FROM rust:1.95-bookworm AS build
WORKDIR /build
COPY Cargo.toml Cargo.lock ./
# The manifest declares the criterion bench, and cargo refuses a manifest whose targets are
# missing, even when it does not build them.
COPY benches ./benches
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY discovery ./discovery
COPY src ./src
# COPY keeps the files' own times, which may be older than the stub build: touch them so
# cargo rebuilds this crate for real.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked

# Runtime: glibc, libgcc, CA certificates and tzdata, nothing else; runs as the image's "nonroot" user, uid 65532.
# deploy/check-binary.sh checks that the binary needs no other shared library.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /build/target/release/notebook-trigger /usr/local/bin/notebook-trigger
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/notebook-trigger"]
