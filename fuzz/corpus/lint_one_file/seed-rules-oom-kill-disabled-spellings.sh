#!/bin/sh
# Every spelling docker, podman and nerdctl accept fires.
docker run -d --memory 1g --oom-kill-disable=true redis:7
sudo -u root docker run -m 512m --oom-kill-disable postgres:16
docker run -m512m --oom-kill-disable --name cache memcached:1.6
env ETCD_UNSUPPORTED_ARCH=arm64 podman run --memory=2g --oom-kill-disable quay.io/coreos/etcd:v3.5.15
exec nerdctl --namespace k8s.io container create -dm 256m --oom-kill-disable nginx:1.27
DOCKER_HOST=unix:///run/docker.sock docker --host unix:///run/docker.sock run --rm \
    --memory=1g \
    --oom-kill-disable \
    busybox true
