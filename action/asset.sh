#!/usr/bin/env bash
# Names the release archive of scar for a runner: `asset.sh OS ARCH VERSION`
# with OS and ARCH as GitHub gives them (runner.os: Linux, macOS, Windows;
# runner.arch: X64, ARM64) and VERSION a release tag (v0.1.0). Prints the
# archive's name, or fails (exit 1, reason on stderr) when no prebuilt
# binary exists for that runner. The names match .github/workflows/release.yml.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: asset.sh OS ARCH VERSION" >&2
  exit 2
fi
os=$1 arch=$2 version=$3

case "$arch" in
  X64) cpu=x86_64 ;;
  ARM64) cpu=aarch64 ;;
  *) echo "no prebuilt scar for the $arch architecture" >&2; exit 1 ;;
esac
case "$os" in
  Linux) target="$cpu-unknown-linux-musl" ext=tar.gz ;;
  macOS) target="$cpu-apple-darwin" ext=tar.gz ;;
  Windows)
    if [ "$cpu" != x86_64 ]; then
      echo "no prebuilt scar for Windows on $arch" >&2
      exit 1
    fi
    target="$cpu-pc-windows-msvc" ext=zip ;;
  *) echo "no prebuilt scar for $os" >&2; exit 1 ;;
esac
echo "scar-$version-$target.$ext"
