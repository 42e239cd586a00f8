#!/usr/bin/env bash
# make isnet-check: fetch the ISNet salient-object model and run
# experiments/checks/isnet.yaml, which annotates a few Fashion-MNIST images
# with it (kind onnx-saliency) beside otsu and kmeans and lets the select
# kind pick the best mask per image. Needs npm and node (the model), the
# ONNX Runtime library (make onnxruntime), the datasets (make data) and
# bin/dagrun (make build); the Makefile target provides the last three.
#
# The model: @imgly/background-removal-data@1.4.5 on npm ships ISNet (DIS,
# https://github.com/xuebinqin/DIS; its ThirdPartyLicenses.json lists the
# model as MIT, the package's own LICENSE.md is AGPL-3.0) as two models cut
# into 4 MiB chunks named by their sha256, listed with their byte offsets
# in dist/resources.json: /models/small (44 MB, weights dynamically
# quantized to uint8: ISNet quint8) and /models/medium (88 MB, fp16 weights:
# ISNet fp16). We take medium — on ONNX Runtime's CPU provider it runs about
# twice as fast as the quantized one — check every chunk and the whole
# package and model by sha256, and write third_party/isnet/isnet_fp16.onnx.
# Idempotent: nothing is fetched when the model is already there.
#
# Usage: scripts/isnet-check.sh [dagrun flags...]   (e.g. --set n=8)
set -euo pipefail
dest=${ISNET_DIR:-third_party/isnet}
model=$dest/isnet_fp16.onnx
pkg=@imgly/background-removal-data@1.4.5
tgz=imgly-background-removal-data-1.4.5.tgz
tgz_sha=ca7789abb39370727c9a098310b53bce41518d200000423c7107f8c01bbce946
model_sha=b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb

have_model() { [ -f "$model" ] && echo "$model_sha  $model" | sha256sum -c --quiet - 2>/dev/null; }

if ! have_model; then
  for tool in npm node; do
    command -v $tool >/dev/null || { echo "isnet-check: $tool is needed (apt-get install npm)" >&2; exit 1; }
  done
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "isnet-check: npm pack $pkg (136 MB)"
  (cd "$work" && npm pack --silent "$pkg" >/dev/null)
  echo "$tgz_sha  $work/$tgz" | sha256sum -c --quiet -
  tar -xzf "$work/$tgz" -C "$work" package/dist
  # Reassemble /models/medium: chunks in offset order, each checked
  # against its name (its sha256) and its offsets.
  node -e '
    const fs = require("fs"), path = require("path"), crypto = require("crypto");
    const [dist, key, out] = process.argv.slice(1);
    const res = JSON.parse(fs.readFileSync(path.join(dist, "resources.json")))[key];
    if (!res) throw new Error("resources.json has no " + key);
    const fd = fs.openSync(out, "w");
    let at = 0;
    for (const c of res.chunks) {
      const b = fs.readFileSync(path.join(dist, c.hash));
      const sha = crypto.createHash("sha256").update(b).digest("hex");
      if (sha !== c.hash) throw new Error("chunk " + c.hash + " has sha256 " + sha);
      if (c.offsets[0] !== at || c.offsets[1] - c.offsets[0] !== b.length)
        throw new Error("chunk " + c.hash + " offsets " + c.offsets + " do not follow byte " + at);
      fs.writeSync(fd, b);
      at += b.length;
    }
    fs.closeSync(fd);
    if (at !== res.size) throw new Error(key + ": " + at + " bytes, resources.json says " + res.size);
  ' "$work/package/dist" /models/medium "$work/isnet_fp16.onnx"
  echo "$model_sha  $work/isnet_fp16.onnx" | sha256sum -c --quiet -
  mkdir -p "$dest"
  mv "$work/isnet_fp16.onnx" "$model.tmp"
  mv "$model.tmp" "$model"
fi
echo "isnet-check: model $model (sha256 $model_sha)"
echo "isnet-check: running experiments/checks/isnet.yaml (ISNet at 1024x1024: tens of seconds per image)"
bin/dagrun --set "model=$(realpath "$model")" "$@" experiments/checks/isnet.yaml
