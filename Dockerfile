# Multi-stage build of the single `waba` binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/waba ./cmd/waba

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/waba /usr/local/bin/waba
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/waba"]
CMD ["serve"]
