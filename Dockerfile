# syntax=docker/dockerfile:1
# Foyer: one static binary on a distroless, non-root base (no shell).
#   docker build -t foyer .
#   docker run -p 8080:8080 -e FOYER_KEK=... -e FOYER_REDIS_URL=redis://redis:6379/0 \
#     -e FOYER_PUBLIC_URL=https://id.example.com foyer
#
# The OpenSSL build (RS256 signatures through libcrypto; README, "The OpenSSL
# build") is the target "openssl", on Debian slim with libssl3:
#   docker build --target openssl -t foyer:openssl .
#   docker run --rm foyer:openssl version     # ... crypto openssl: OpenSSL 3...
# The default target (the last stage) stays the static, pure-Go image.

FROM golang:1.26-bookworm AS src
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .

FROM src AS build
# Templates and static files are embedded; the result needs no libc.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/foyer ./cmd/foyer

FROM src AS build-openssl
# cgo links the binding (github.com/golang-fips/openssl/v2), which loads
# libcrypto with dlopen at start; libssl-dev is the build's OpenSSL, as CI
# installs it.
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev && rm -rf /var/lib/apt/lists/*
RUN CGO_ENABLED=1 GOOS=linux go build -trimpath -tags openssl -ldflags="-s -w" -o /out/foyer ./cmd/foyer

# The OpenSSL variant: glibc and libcrypto.so.3 from Debian, the same
# non-root uid as distroless's nonroot.
FROM debian:bookworm-slim AS openssl
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build-openssl /out/foyer /usr/local/bin/foyer
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/foyer"]
CMD ["serve"]

# The default image, last so that a plain "docker build" builds it.
FROM gcr.io/distroless/static-debian12:nonroot AS default
COPY --from=build /out/foyer /usr/local/bin/foyer
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/foyer"]
CMD ["serve"]
