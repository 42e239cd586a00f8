#!/usr/bin/env bash
# stop.sh: stop the server start.sh started and remove its data.
set -euo pipefail
state=${DAGRUN_S3_STATE:-/tmp/dagrun-s3}
if [ -f "$state/pid" ]; then
  kill "$(cat "$state/pid")" 2>/dev/null || true
fi
rm -rf "$state"
