# The aws-jit container image: the release binary on Debian slim. It links only glibc,
# libm and libgcc_s (SQLite and the TLS stack are built in), so the runtime stage adds just
# CA certificates. A shell stays in the image because Kubiya's docker tools run their
# `content` as a shell script (see `aws-jit kubiya bundle`).
#
#   docker build -t aws-jit:0.1.0 .
#   docker run --rm aws-jit:0.1.0 --help
#   docker run -p 8080:8080 -e AWS_JIT_DB=postgres://... aws-jit:0.1.0   # serve
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
# .git stays out of the context: the builder says which commit this is, for --version
# (docker build --build-arg AWS_JIT_COMMIT=$(git rev-parse --short=12 HEAD)
#  --build-arg AWS_JIT_COMMIT_DATE=$(git log -1 --format=%cs) .).
ARG AWS_JIT_COMMIT=
ARG AWS_JIT_COMMIT_DATE=
ENV AWS_JIT_COMMIT=$AWS_JIT_COMMIT AWS_JIT_COMMIT_DATE=$AWS_JIT_COMMIT_DATE
COPY . .
RUN cargo build --release --locked --bin aws-jit

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/aws-jit /usr/local/bin/aws-jit
COPY man/aws-jit.1 /usr/local/share/man/man1/aws-jit.1
ENV AWS_JIT_CONFIG_DIR=/etc/aws-jit/configs
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/aws-jit"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
