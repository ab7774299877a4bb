#!/bin/sh
docker run -m 1g --oom-kill-disable redis:7 # scar:ignore oom-kill-disable -- misspelt rule id
# near-miss: the id exists
# scar:ignore oom-kill-disabled -- cache may hang; its health check restarts it
docker run -m 1g --oom-kill-disable redis:7
