#!/usr/bin/env bash
# Installs a released scar into DIR: `install.sh VERSION ASSET DIR`.
# Downloads ASSET and its checksum (ASSET without .tar.gz or .zip, plus
# .sha256, as the release workflow's upload action names it) from the
# release VERSION (from
# SCAR_RELEASES, default the project's GitHub releases), refuses an archive
# whose SHA-256 differs, and unpacks the binary into DIR. Exit 3 when the
# release or the asset does not exist, so the Action can build instead;
# exit 1 on any other failure.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: install.sh VERSION ASSET DIR" >&2
  exit 2
fi
version=$1 asset=$2 dir=$3
releases=${SCAR_RELEASES:-https://github.com/scar-dev/scar/releases/download}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {
  local status code=0
  status=$(curl --silent --show-error --location --retry 3 --output "$2" \
    --write-out '%{http_code}' "$1") || code=$?
  case "$code:$status" in
    0:200 | 0:000) ;;  # 000: a file:// URL, which has no status
    0:404 | 37:*) echo "no release asset $1" >&2; exit 3 ;;  # 37: no such file://
    0:*) echo "downloading $1: HTTP $status" >&2; exit 1 ;;
    *) echo "cannot download $1 (curl exit $code)" >&2; exit 1 ;;
  esac
}

base=${asset%.tar.gz}
base=${base%.zip}
fetch "$releases/$version/$asset" "$work/$asset"
fetch "$releases/$version/$base.sha256" "$work/$base.sha256"

expected=$(awk '{print $1; exit}' "$work/$base.sha256")
if command -v sha256sum >/dev/null 2>&1; then
  actual=$(sha256sum "$work/$asset" | awk '{print $1}')
else
  actual=$(shasum -a 256 "$work/$asset" | awk '{print $1}')
fi
if [ "$expected" != "$actual" ]; then
  echo "$asset: SHA-256 $actual does not match the release's $expected; not installing" >&2
  exit 1
fi

mkdir -p "$dir"
case "$asset" in
  *.zip) unzip -q -o "$work/$asset" -d "$work/unpacked" ;;
  *) mkdir -p "$work/unpacked" && tar -xzf "$work/$asset" -C "$work/unpacked" ;;
esac
binary=$(find "$work/unpacked" -type f \( -name scar -o -name scar.exe \) | head -n 1)
if [ -z "$binary" ]; then
  echo "$asset holds no scar binary" >&2
  exit 1
fi
cp "$binary" "$dir/"
chmod +x "$dir/$(basename "$binary")"
echo "installed scar $version into $dir"
