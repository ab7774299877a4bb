#!/bin/sh
# scar:ignore oom-kill-disabled -- the OOM killer is left on here, nothing to excuse
docker run -m 1g redis:7
docker run -m 1g --oom-kill-disable redis:7 # scar:ignore oom-kill-disable -- misspelt rule id
# near-miss: used
# scar:ignore oom-kill-disabled -- cache may hang; its health check restarts it
docker run -m 1g --oom-kill-disable redis:7
