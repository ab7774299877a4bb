#!/usr/bin/env bash
# Runs scar lint as the Action's inputs say (the SCAR_* variables), and
# writes what it hid to the job summary. On a pull request (SCAR_BASE_SHA
# set) with only-new on, only findings the change introduced are reported:
# the base commit is fetched when the checkout is shallow and lacks it.
set -euo pipefail

args=(lint --format "${SCAR_FORMAT:-github}" --fail-on "${SCAR_FAIL_ON:-warning}")
if [ -n "${SCAR_CONFIG:-}" ]; then args+=(--config "$SCAR_CONFIG"); fi
if [ -n "${SCAR_SARIF:-}" ]; then args+=(--format sarif --output "$SCAR_SARIF"); fi
# Runners have a network: chart dependencies nobody vendored are fetched.
if [ "${SCAR_FETCH_DEPENDENCIES:-true}" = true ]; then
  args+=(--helm-dependencies fetch)
fi
base="${SCAR_BASE_SHA:-}"
if [ "${SCAR_ONLY_NEW:-true}" = true ] && [ -n "$base" ]; then
  if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
    git fetch --no-tags --quiet --depth=1 origin "$base"
  fi
  args+=(--new-from-rev "$base")
fi
human=$(mktemp)
trap 'rm -f "$human"' EXIT
args+=(--format human --output "$human")

read -ra paths <<< "${SCAR_PATHS:-.}"
status=0
"${SCAR:-scar}" "${args[@]}" "${paths[@]}" || status=$?

if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -s "$human" ]; then
  {
    echo "### scar lint"
    echo
    if [ "${SCAR_ONLY_NEW:-true}" = true ] && [ -n "$base" ]; then
      echo "Only findings this pull request introduced (new since ${base:0:12}) are reported."
      echo
    fi
    grep -E '^(findings not shown: |skipped [0-9]+ (folder|file))' "$human" | sed 's/$/  /' || true
    tail -n 1 "$human"
  } >> "$GITHUB_STEP_SUMMARY"
fi
exit "$status"
