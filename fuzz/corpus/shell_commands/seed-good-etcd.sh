#!/bin/bash
# etcd sized for write bursts, and killable at its limit so it restarts.
set -euo pipefail
exec /usr/bin/docker run \
  --restart=on-failure:5 \
  --env-file=/etc/etcd.env \
  --net=host \
  -v /var/lib/etcd:/var/lib/etcd:rw \
  --memory=2048M \
  --name=etcd1 \
  quay.io/coreos/etcd:v3.5.15 \
  /usr/local/bin/etcd "$@"
