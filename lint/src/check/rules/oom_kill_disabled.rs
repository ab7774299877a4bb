use crate::model::compose::ComposeService;
use crate::model::container_cli::ContainerRun;
use crate::model::parse::systemd::Unit;

use super::{Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &OomKillDisabled;

struct OomKillDisabled;

const HELP: &str = "remove the OOM-kill exemption so the process is killed and restarted at its limit, and size the limit for bursts";

impl Rule for OomKillDisabled {
    fn id(&self) -> &'static str {
        "oom-kill-disabled"
    }

    fn doc(&self) -> &'static str {
        r#"# oom-kill-disabled

## What it finds
A container started with a memory limit and the OOM killer disabled:
`docker|podman|nerdctl run|create` with `--memory`/`-m` and
`--oom-kill-disable` in a shell script or a systemd `Exec*=` line, a compose
service with `oom_kill_disable: true` and `mem_limit` or
`deploy.resources.limits.memory`, or a systemd unit that sets
`MemoryMax=`/`MemoryLimit=`/`MemoryHigh=` together with `OOMScoreAdjust=-1000`.

## Why it matters
A team ran etcd under Docker with `--memory=512M --oom-kill-disable`. When the
deploy pipeline updated 15 Deployments at once, etcd's memory reached the cap
and stayed there: the cap stopped it from growing and the disabled OOM killer
stopped the kernel from killing it, so it hung instead of restarting.
kube-apiserver answered every request with HTTP 429 until the cluster was
reinstalled. A process at its memory limit that cannot be killed does not
recover by itself.

## What to write instead
Keep the limit and let the kernel kill the process, so the restart policy can
bring it back; size the limit for write bursts (etcd needed 1024M):

```sh
docker run --restart=on-failure:5 --memory=1024M \
  --name=etcd1 quay.io/coreos/etcd:v3.5.15 /usr/local/bin/etcd
```

```yaml
services:
  etcd:
    image: quay.io/coreos/etcd:v3.5.15
    mem_limit: 1024m
```
"#
    }

    fn check_container_run(&self, run: &ContainerRun, out: &mut Emitter<'_>) {
        let Some(disable) = run.flag_enabled("--oom-kill-disable") else {
            return;
        };
        let Some(memory) = run
            .option("--memory")
            .and_then(|m| m.value.as_deref())
            .filter(|v| !is_unlimited(v))
        else {
            return;
        };
        let what = run
            .option("--name")
            .and_then(|n| n.value.clone())
            .or_else(|| run.image.as_ref().map(|i| i.text.clone()))
            .unwrap_or_else(|| "container".to_string());
        out.report(
            disable.span,
            format!(
                "{what}: {} {} with --memory={memory} and --oom-kill-disable; at the limit it hangs instead of being killed and restarted",
                run.engine, run.subcommand
            ),
            HELP,
        );
    }

    fn check_compose_service(&self, service: &ComposeService<'_>, out: &mut Emitter<'_>) {
        let Some((key, value)) = service.node.entry("oom_kill_disable") else {
            return;
        };
        if value.bool() != Some(true) {
            return;
        }
        let Some(memory) = service.memory_limit().filter(|m| !m.str().is_some_and(is_unlimited)) else {
            return;
        };
        out.report(
            key.span,
            format!(
                "service `{}` has a memory limit ({}) and oom_kill_disable: true; at the limit it hangs instead of being killed and restarted",
                service.name,
                memory.str().unwrap_or("set")
            ),
            HELP,
        );
    }

    fn check_unit(&self, unit: &Unit<'_>, out: &mut Emitter<'_>) {
        let Some(adjust) = unit
            .last("Service", "OOMScoreAdjust")
            .filter(|e| e.value == "-1000")
        else {
            return;
        };
        let Some(limit) = ["MemoryMax", "MemoryLimit", "MemoryHigh"]
            .iter()
            .filter_map(|key| unit.last("Service", key))
            .find(|e| !is_unlimited(&e.value))
        else {
            return;
        };
        out.report(
            adjust.key_span.to(adjust.value_span),
            format!(
                "{}={} with OOMScoreAdjust=-1000: at the limit the kernel will not kill the service, so it stalls instead of restarting",
                limit.key, limit.value
            ),
            HELP,
        );
    }
}

/// Values that set no limit at all.
fn is_unlimited(value: &str) -> bool {
    matches!(value.trim(), "" | "0" | "-1" | "infinity")
}
