#!/bin/sh
# Builds the container image of Containerfile in two steps, as `task image`
# does: the static binary (CGO_ENABLED=0, -trimpath, the version stamped into
# internal/app.Version) and the CA certificates go into the build context
# $CONTEXT, then podman packages them FROM scratch.
#
# Environment (all optional):
#   VERSION      the version to stamp (default: git describe, else "dev")
#   IMAGE        the image's name (default plexor:$VERSION)
#   CONTEXT      the build context directory (default build/image)
#   CA_BUNDLE    the CA certificates to copy in (default Debian's bundle)
#   PODMAN       the podman command with global flags (default podman), e.g.
#                "podman --storage-driver vfs"
#   BUILD_FLAGS  more flags for podman build, e.g. "--isolation chroot"
#   PGO          go build's -pgo (default auto: default.pgo)
# Run it from the module root. TestContainerImage (e2e/image_test.go) runs it.
set -eu
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
IMAGE=${IMAGE:-plexor:$VERSION}
CONTEXT=${CONTEXT:-build/image}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
PODMAN=${PODMAN:-podman}
BUILD_FLAGS=${BUILD_FLAGS:-}
PGO=${PGO:-auto}

mkdir -p "$CONTEXT"
CGO_ENABLED=0 go build -trimpath -pgo="$PGO" \
	-ldflags "-s -w -X github.com/plexor/plexor/internal/app.Version=$VERSION" \
	-o "$CONTEXT/plexor" .
cp "$CA_BUNDLE" "$CONTEXT/ca-certificates.crt"
# --format docker: the OCI format has no HEALTHCHECK.
# shellcheck disable=SC2086 # PODMAN and BUILD_FLAGS are word lists
$PODMAN build --format docker $BUILD_FLAGS -f Containerfile -t "$IMAGE" "$CONTEXT"
