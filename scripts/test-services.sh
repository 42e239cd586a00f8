#!/usr/bin/env bash
# test-services.sh CMD...: run CMD (the test suite) with the services and
# tools the tests use: headless Chromium for the HTML report test, a
# one-node Slurm cluster for the Slurm executor's tests, and an
# S3-compatible server on loopback for the remote tier's tests
# (scripts/s3/start.sh, as any user). As root, missing
# packages are installed from Debian (chromium, slurm-wlm, munge) and the
# cluster is started, then stopped when CMD ends. Without root, tests whose
# tools are absent skip with a message saying what they need.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then
  if ! command -v chromium >/dev/null; then
    echo "test-services: installing chromium" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  started=
  if "$here/slurm/start.sh"; then
    started=1
    export DAGRUN_SLURM=1
  else
    echo "test-services: no Slurm cluster; the Slurm tests will skip" >&2
  fi
  if [ -n "$started" ]; then
    trap '"$here/slurm/stop.sh" || true' EXIT
  fi
fi
if s3env=$("$here/s3/start.sh"); then
  set -a
  eval "$s3env"
  set +a
  trap '"$here/s3/stop.sh" || true; [ -z "${started:-}" ] || "$here/slurm/stop.sh" || true' EXIT
else
  echo "test-services: no S3 server; the S3 tests will skip" >&2
fi
"$@"
