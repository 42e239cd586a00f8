#!/usr/bin/env bash
# Puts the ONNX Runtime 1.24.1 shared library at DEST/libonnxruntime.so.1.
# It comes from the npm package onnxruntime-node@1.24.1, fetched with
# `npm pack` (a plain `npm install` fails on the package's own post-install
# download) and checked by sha256. Idempotent: does nothing when DEST already
# holds the right file.
set -euo pipefail
dest=${1:-third_party/onnxruntime}
tgz_sha=57181cf6e6e711b155c5b942d591fd63ded0b5de5c4922d51fd994e7f6ac2772
lib_sha=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
lib="$dest/libonnxruntime.so.1"
if [ -f "$lib" ] && echo "$lib_sha  $lib" | sha256sum -c --quiet - 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "fetch-onnxruntime: installing npm (Debian) to fetch onnxruntime-node" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  else
    echo "fetch-onnxruntime: npm is needed: sudo apt-get install npm" >&2
    exit 1
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent onnxruntime-node@1.24.1 >/dev/null)
echo "$tgz_sha  $work/onnxruntime-node-1.24.1.tgz" | sha256sum -c --quiet -
tar -xzf "$work/onnxruntime-node-1.24.1.tgz" -C "$work" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
echo "$lib_sha  $work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c --quiet -
mkdir -p "$dest"
mv "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$lib.tmp"
mv "$lib.tmp" "$lib"
echo "fetch-onnxruntime: $lib"
