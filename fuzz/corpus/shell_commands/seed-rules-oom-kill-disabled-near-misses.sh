#!/usr/bin/env bash
# None of these both caps memory and disables the OOM killer.
docker run --memory=1g --oom-kill-disable=false redis:7
docker run --oom-kill-disable redis:7
docker run --memory=1g redis:7
docker run -m 0 --oom-kill-disable redis:7
docker run redis:7 redis-server --memory 1g --oom-kill-disable
docker ps --memory=1g --oom-kill-disable
echo docker run --memory=1g --oom-kill-disable img
# docker run --memory=1g --oom-kill-disable img
cat <<'EOF2'
docker run --memory=1g --oom-kill-disable img
EOF2
docker run -e OPTS="--memory=1g --oom-kill-disable" redis:7
