# syntax=docker/dockerfile:1
# The kusciatask-controller image: static binaries on distroless/static
# (no shell, no package manager), run as the non-root user 65532, and happy
# with a read-only root filesystem (nothing is written to disk).
#
#   make image-docker IMAGE=registry.example.com/kusciatask-controller:v0.2.0
#
# `make image` builds the same layout with no engine at all (pkg/imagebuild,
# hack/image; pkg/imagebuild/dockerfile_test.go holds the two together).
#
# The build stage needs only the Go module proxy (GOPROXY may point at a
# mirror: --build-arg GOPROXY=...).
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS build
ARG GOPROXY
ARG VERSION=v0.0.0-dev
ARG COMMIT=unknown
ARG BUILD_DATE=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
COPY examples/ examples/
RUN CGO_ENABLED=0 go build -trimpath -o /out/ \
      -ldflags "-s -w \
        -X kusciatask.io/controller/pkg/version.version=${VERSION} \
        -X kusciatask.io/controller/pkg/version.commit=${COMMIT} \
        -X kusciatask.io/controller/pkg/version.buildDate=${BUILD_DATE}" \
      ./cmd/...

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kusciatask-controller"]
