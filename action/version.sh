#!/usr/bin/env bash
# Decides which release of scar the Action installs: `version.sh INPUT REF`.
# INPUT is the action's `version` input (empty: the action's own version),
# REF the ref the workflow used the action at (github.action_ref: v0.1.0,
# main, a commit). Prints a release tag (v1.2.3), or nothing when the ref is
# not a release: the Action then builds scar from its own checkout.
set -euo pipefail

input=${1:-} ref=${2:-}
release='^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'
if [ -n "$input" ]; then
  case "$input" in
    v*) candidate=$input ;;
    *) candidate=v$input ;;
  esac
  if [[ ! $candidate =~ $release ]]; then
    echo "version: '$input' is not a release such as 0.1.0 or v0.1.0" >&2
    exit 2
  fi
  echo "$candidate"
elif [[ $ref =~ $release ]]; then
  echo "$ref"
fi
