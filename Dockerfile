# syntax=docker/dockerfile:1
# Foyer: one static binary on a distroless, non-root base (no shell).
#   docker build -t foyer .
#   docker run -p 8080:8080 -e FOYER_KEK=... -e FOYER_REDIS_URL=redis://redis:6379/0 \
#     -e FOYER_PUBLIC_URL=https://id.example.com foyer

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Templates and static files are embedded; the result needs no libc.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/foyer ./cmd/foyer

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/foyer /usr/local/bin/foyer
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/foyer"]
CMD ["serve"]
