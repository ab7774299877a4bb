use crate::model::compose::ComposeService;
use crate::model::container_cli::ContainerRun;
use crate::model::control_plane::container_flags;
use crate::model::k8s::{command_runs, container_runs, Object};
use crate::model::parse::systemd::Unit;
use crate::model::parse::yaml::Node;
use crate::model::quantity::{describe, docker_bytes, kubernetes_bytes, systemd_bytes};
use crate::model::source::Span;

use super::{Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &EtcdMemoryTooLow;

struct EtcdMemoryTooLow;

const ETCD: &str = "etcd";

impl Rule for EtcdMemoryTooLow {
    fn id(&self) -> &'static str {
        "etcd-memory-too-low"
    }

    fn doc(&self) -> &'static str {
        r#"# etcd-memory-too-low

## What it finds
etcd run with a memory limit below `min_memory` (default `1Gi`): docker,
podman or nerdctl `--memory`/`-m`, compose `mem_limit` or
`deploy.resources.limits.memory`, `resources.limits.memory` of an etcd
container in Kubernetes YAML, or `MemoryMax=`/`MemoryLimit=` in a systemd
unit that runs etcd. etcd is told by its image (`etcd`, as quay.io and
registry.k8s.io name it, or bitnami's `etcd-server`) when the image's own
entrypoint runs, or by a command that starts the `etcd` binary, directly or
in a shell's `-c` script. A container of the etcd image whose command runs
another program (`etcdctl`, a backup or upgrade script), and Jobs, CronJobs
and Helm hooks, which run briefly, are not etcd serving a cluster's state.
Nor is an etcd that takes clients on loopback only (`--listen-client-urls`
or `ETCD_LISTEN_CLIENT_URLS` naming `127.0.0.1`, `localhost` or `::1`) in a
Pod on its own network with no kube-apiserver beside it: only its Pod's
other containers can reach it, so it keeps a tool's data (kubespray's
netchecker runs one), not the state an API server serves.

Sizes are read the way each tool reads them, and the suffixes differ:
docker, compose and systemd take `512M`, `512m`, `512MB` and `512MiB` all as
512 MiB; Kubernetes takes `512M` as 512,000,000 bytes, `512Mi` as 512 MiB,
and `512m` as half a byte (milli). A bare number is bytes everywhere.

## Why it matters
etcd held a cluster's state in 512M under Docker. When a deploy pipeline
updated 15 Deployments at once, etcd's memory reached the cap and stayed
there, and kube-apiserver answered every request with HTTP 429 until the
cluster was reinstalled. The fix was to give etcd 1024M: etcd's memory grows
with write bursts, watchers and compaction, and a burst of deploys is a load
test you run in production.

## What to write instead
```sh
docker run --memory=2048M --name=etcd1 quay.io/coreos/etcd:v3.5.15 ...
```
```yaml
resources:
  requests: {memory: 2Gi}
  limits: {memory: 2Gi}
```
"#
    }

    fn check_container_run(&self, run: &ContainerRun, out: &mut Emitter<'_>) {
        if !run.runs(ETCD) {
            return;
        }
        if let Some(memory) = run.option("--memory") {
            let value = memory.value.as_deref().unwrap_or("");
            check(out, memory.span, value, docker_bytes(value), "--memory");
        }
    }

    fn check_compose_service(&self, service: &ComposeService<'_>, out: &mut Emitter<'_>) {
        if !service.runs(ETCD) {
            return;
        }
        if let Some(limit) = service.memory_limit() {
            let value = limit.str().unwrap_or("");
            check(out, limit.span, value, docker_bytes(value), "the memory limit");
        }
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        // A Job or a hook that runs the etcd image briefly is not etcd
        // serving a cluster's state.
        if object.runs_to_completion() {
            return;
        }
        for container in object
            .containers()
            .iter()
            .filter(|c| container_runs(c, ETCD) && reachable_from_outside_its_pod(object, c))
        {
            if let Some(limit) = container.at(&["resources", "limits", "memory"]) {
                let value = limit.str().unwrap_or("");
                check(out, limit.span, value, kubernetes_bytes(value), "resources.limits.memory");
            }
        }
    }

    fn check_unit(&self, unit: &Unit<'_>, out: &mut Emitter<'_>) {
        let runs_etcd = unit
            .all("Service", "ExecStart")
            .flat_map(|e| unit.exec_commands(e))
            .any(|words| {
                let argv: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
                command_runs(&argv, ETCD)
            });
        if !runs_etcd {
            return;
        }
        for key in ["MemoryMax", "MemoryLimit"] {
            if let Some(entry) = unit.last("Service", key) {
                check(out, entry.value_span, &entry.value, systemd_bytes(&entry.value), key);
            }
        }
    }
}

/// Whether other Pods can reach an etcd container: it takes clients on more
/// than loopback, or loopback is the node's (`hostNetwork`), or a
/// kube-apiserver beside it uses it.
fn reachable_from_outside_its_pod(object: &Object<'_>, etcd: &Node) -> bool {
    let host_network = object
        .pod_spec()
        .and_then(|s| s.get("hostNetwork"))
        .and_then(Node::bool)
        == Some(true);
    host_network
        || !clients_on_loopback_only(etcd)
        || object
            .containers()
            .iter()
            .any(|c| container_runs(c, "kube-apiserver"))
}

/// Whether an etcd container sets the addresses it takes clients on, and
/// every one of them is loopback. etcd's own default is localhost too, but
/// an image's entrypoint may set another, so an unset list is not read.
fn clients_on_loopback_only(container: &Node) -> bool {
    let flag = container_flags(container)
        .into_iter()
        .rfind(|f| f.name == "listen-client-urls")
        .map(|f| f.value);
    let env = || {
        container
            .get("env")
            .map_or(&[][..], Node::items)
            .iter()
            .filter(|e| e.get("name").and_then(Node::str) == Some("ETCD_LISTEN_CLIENT_URLS"))
            .find_map(|e| e.get("value").and_then(Node::str))
            .map(str::to_string)
    };
    flag.or_else(env)
        .is_some_and(|urls| !urls.is_empty() && urls.split(',').all(is_loopback_url))
}

/// `http://127.0.0.1:2379`, `https://localhost:2379`, `http://[::1]:2379`.
fn is_loopback_url(url: &str) -> bool {
    let authority = url.trim().split_once("://").map_or("", |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check(out: &mut Emitter<'_>, at: Span, written: &str, bytes: Option<u64>, setting: &str) {
    let min_text = out.params().text("min_memory").to_string();
    let Some(min) = kubernetes_bytes(&min_text) else {
        return;
    };
    let Some(bytes) = bytes.filter(|b| *b > 0 && *b < min) else {
        return;
    };
    out.report(
        at,
        format!(
            "etcd is capped at {written} ({}) by {setting}, under {min_text}: a burst of writes takes it to the cap and the API server behind it answers 429",
            describe(bytes)
        ),
        format!("give etcd at least {min_text} ({}), sized for write bursts", describe(min)),
    );
}
