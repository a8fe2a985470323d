#!/usr/bin/env bash
# Writes default.pgo, the CPU profile "go build" uses for profile-guided
# optimisation of the plexor binary (go help buildflags, -pgo=auto): runs the
# load points that exercise the delivery and publish paths (one-channel,
# hundred-channel, publish-rate) through bench/plexor.sh with CPU_PROFILE set
# (a binary built without a profile, "plexor serve --cpuprofile") and puts
# the profile in place. Takes about a minute.
#   POINTS  which points (default: one-channel,hundred-channel,publish-rate)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=$(mktemp)
trap 'rm -f "$profile"' EXIT
CPU_PROFILE="$profile" POINTS="${POINTS:-one-channel,hundred-channel,publish-rate}" bash bench/plexor.sh "$@"
if [ ! -s "$profile" ]; then
  echo "no profile was written" >&2; exit 1
fi
mv "$profile" default.pgo
chmod 644 default.pgo
echo "wrote default.pgo ($(wc -c <default.pgo) bytes); go build uses it from now on (-pgo=off to build without)" >&2
