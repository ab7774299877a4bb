#!/bin/sh
docker run -d --name etcd1 -m 512m quay.io/coreos/etcd:v3.5.15 /usr/local/bin/etcd
# near-miss: 1024M is 1 GiB to docker, though 1024M would be less than 1Gi to Kubernetes
docker run -d --name etcd2 --memory=1024M quay.io/coreos/etcd:v3.5.15 /usr/local/bin/etcd
# near-miss: not etcd
docker run -d --name cache --memory 256m redis:7
