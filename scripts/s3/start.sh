#!/usr/bin/env bash
# start.sh: install (once, into bin/) and start an S3-compatible server on
# loopback for the remote tier's tests, and print the environment the tests
# read (DAGRUN_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_EC2_METADATA_DISABLED). The server's data lives in a temporary folder
# removed by stop.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=v1.8.0
bin=$root/bin/versitygw
if [ ! -x "$bin" ]; then
  echo "s3: installing versitygw $version into bin/" >&2
  GOBIN=$root/bin go install "github.com/versity/versitygw/cmd/versitygw@$version" >&2
fi
state=${DAGRUN_S3_STATE:-/tmp/dagrun-s3}
mkdir -p "$state/data/dagrun-test"
port=${DAGRUN_S3_PORT:-9317}
"$bin" --port "127.0.0.1:$port" --access dagrun-test --secret dagrun-test-secret --keep-alive \
  posix "$state/data" >"$state/log" 2>&1 &
echo $! >"$state/pid"
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "DAGRUN_S3_ENDPOINT=http://127.0.0.1:$port"
    echo "AWS_ACCESS_KEY_ID=dagrun-test"
    echo "AWS_SECRET_ACCESS_KEY=dagrun-test-secret"
    echo "AWS_EC2_METADATA_DISABLED=true"
    exit 0
  fi
  sleep 0.1
done
echo "s3: server did not start; see $state/log" >&2
exit 1
