use crate::model::k8s::{container_runs, Object};
use crate::model::parse::yaml::Node;

use super::{Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &EtcdLivenessDependsOnQuorum;

struct EtcdLivenessDependsOnQuorum;

impl Rule for EtcdLivenessDependsOnQuorum {
    fn id(&self) -> &'static str {
        "etcd-liveness-depends-on-quorum"
    }

    fn doc(&self) -> &'static str {
        r#"# etcd-liveness-depends-on-quorum

## What it finds
An etcd container whose `livenessProbe` checks the health of the cluster
rather than of the local member: an `httpGet` on `/health` without
`serializable=true`, or an exec probe running `etcdctl endpoint health` or
`etcdctl cluster-health`. `/livez`, `/readyz` and
`/health?serializable=true` check the local member and are not reported.

## Why it matters
A linearizable health check needs quorum. When quorum is lost or a peer is
slow (during a burst of writes that already has etcd struggling, as when 15
Deployments updated at once starved a cluster's etcd), every member's
liveness probe fails at the same time and the kubelet restarts them all,
turning a slow cluster into one with no etcd at all and prolonging the
outage. kubeadm moved etcd's liveness probe to `/health?serializable=true`
for this reason.

## What to write instead
```yaml
livenessProbe:
  httpGet:
    host: 127.0.0.1
    path: /health?exclude=NOSPACE&serializable=true
    port: 2381
    scheme: HTTP
  failureThreshold: 8
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        for container in object.containers().iter().filter(|c| container_runs(c, "etcd")) {
            let Some(probe) = container.get("livenessProbe") else {
                continue;
            };
            if let Some(path) = probe.at(&["httpGet", "path"]) {
                let text = path.str().unwrap_or("");
                let (route, query) = text.split_once('?').unwrap_or((text, ""));
                if route == "/health" && !query.split('&').any(|p| p == "serializable=true") {
                    out.report(
                        path.span,
                        format!("etcd's livenessProbe checks `{text}`, which needs quorum: when quorum is lost every member fails it and is restarted at once"),
                        "probe /health?serializable=true (or /livez on etcd 3.5.11+), which checks only the local member",
                    );
                }
            }
            if let Some(command) = probe.at(&["exec", "command"]) {
                let script = command
                    .items()
                    .iter()
                    .filter_map(Node::str)
                    .collect::<Vec<_>>()
                    .join(" ");
                if script.contains("etcdctl")
                    && (script.contains("endpoint health") || script.contains("cluster-health"))
                {
                    out.report(
                        command.span,
                        "etcd's livenessProbe runs an etcdctl health check that needs quorum: when quorum is lost every member fails it and is restarted at once",
                        "probe /health?serializable=true over HTTP, which checks only the local member",
                    );
                }
            }
        }
    }
}
