#!/bin/sh
docker run -m 1g --oom-kill-disable redis:7 # scar:ignore oom-kill-disabled
# scar:ignore oom-kill-disabled --
docker run -m 1g --oom-kill-disable redis:7
# near-miss: a reason is given, so it suppresses and is not reported
docker run -m 1g --oom-kill-disable redis:7 # scar:ignore oom-kill-disabled -- cache may hang; it is restarted by its health check
