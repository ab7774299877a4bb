use crate::check::finding::Severity;
use crate::model::k8s::{container_runs, image_name, image_tag, Object};
use crate::model::parse::yaml::Node;
use crate::model::source::Span;

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &EndpointsResyncHeadlessBug;

struct EndpointsResyncHeadlessBug;

const CONTROLLER_MANAGER: &str = "kube-controller-manager";

/// The first patch release of each affected minor that carries the fix.
const FIXED_IN: &[(u32, u32)] = &[(17, 13), (18, 10), (19, 3)];

impl Rule for EndpointsResyncHeadlessBug {
    fn id(&self) -> &'static str {
        "endpoints-resync-headless-bug"
    }

    fn doc(&self) -> &'static str {
        r#"# endpoints-resync-headless-bug

## What it finds
kube-controller-manager at a version whose endpoints controller rewrites the
Endpoints of every headless Service on each informer resync: 1.17.0 to
1.17.12, 1.18.0 to 1.18.9 and 1.19.0 to 1.19.2. The version is read from the
image tag of a kube-controller-manager container (a static Pod manifest),
from kubeadm's `ClusterConfiguration` `kubernetesVersion`, or from the
`kindest/node` image of a kind cluster. The finding is an error, not a
warning, when headless Services (`clusterIP: None`) are among the linted
files, and says how many.

The bug is kubernetes/kubernetes#94112 ("Remove canonicalization of
endpoints by endpoints controller for better comparison"): Endpoints of
headless Services carry the label `service.kubernetes.io/headless` (added
in 1.17) that the Service lacks, so the controller's "unchanged" comparison
never matched. The fix shipped in 1.20.0 and was backported to 1.19.3
(#94937), 1.18.10 (#94934) and 1.17.13 (#94935). Releases before 1.17 carry
the other half of the same bug (unsorted subsets) and are long out of
support.

## Why it matters
A platform with 12,000+ headless Services on 1.17.3 saw 504s during deploys
that lasted for minutes: about every 16 hours the endpoints controller
rewrote every Endpoints object (12,954 PUTs), its rate-limited queue backed up
for over 10 minutes, and real endpoint changes of deploys waited behind the
rewrites while ingresses kept sending traffic to deleted Pods. Raising
`--concurrent-endpoint-syncs=30` only cut it to five minutes.

## What to write instead
Upgrade the control plane to a release with the fix:

```yaml
apiVersion: kubeadm.k8s.io/v1beta2
kind: ClusterConfiguration
kubernetesVersion: v1.17.13   # or 1.18.10+, 1.19.3+, 1.20+
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        for (version, span) in versions(object) {
            let Some((minor, patch)) = parse_version(&version) else {
                continue;
            };
            let Some((_, fixed)) = FIXED_IN.iter().find(|(m, _)| *m == minor) else {
                continue;
            };
            if patch >= *fixed {
                continue;
            }
            let fix = format!("1.{minor}.{fixed}");
            out.report_if(span, move |lookup| {
                let headless = lookup.headless_services();
                let stakes = if headless == 0 {
                    "every headless Service's Endpoints".to_string()
                } else {
                    format!("the Endpoints of the {headless} headless Service{} linted here", if headless == 1 { "" } else { "s" })
                };
                Some(Diagnosis {
                    severity: (headless > 0).then_some(Severity::Error),
                    message: format!(
                        "kube-controller-manager {version} rewrites {stakes} on every resync (kubernetes#94112): real endpoint changes queue behind the rewrites for minutes and deploys serve 502/504s"
                    ),
                    help: format!("upgrade to {fix} or later (or 1.20+)"),
                    ..Diagnosis::default()
                })
            });
        }
    }
}

/// The Kubernetes versions an object pins kube-controller-manager to.
fn versions(object: &Object<'_>) -> Vec<(String, Span)> {
    let tag_of = |node: &Node| -> Option<(String, Span)> {
        Some((image_tag(node.str()?)?.to_string(), node.span))
    };
    if object.api_version.starts_with("kubeadm.k8s.io/") && object.kind == "ClusterConfiguration" {
        return object
            .node
            .get("kubernetesVersion")
            .and_then(|v| Some((v.str()?.to_string(), v.span)))
            .into_iter()
            .collect();
    }
    if object.api_version.starts_with("kind.x-k8s.io/") && object.kind == "Cluster" {
        return object
            .node
            .get("nodes")
            .map_or(&[][..], Node::items)
            .iter()
            .filter_map(|n| n.get("image"))
            .filter(|image| image.str().is_some_and(|i| i.contains("kindest/") && image_name(i) == "node"))
            .filter_map(tag_of)
            .collect();
    }
    object
        .containers()
        .iter()
        .filter(|c| container_runs(c, CONTROLLER_MANAGER))
        .filter_map(|c| c.get("image"))
        .filter(|image| image.str().map(image_name) == Some(CONTROLLER_MANAGER))
        .filter_map(tag_of)
        .collect()
}

/// `v1.17.3`, `1.17.3-gke.1`, `v1.17.3@sha256:…` → (17, 3) for 1.x.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let text = text.trim().trim_start_matches('v');
    let mut parts = text.split('.');
    if parts.next()? != "1" {
        return None;
    }
    let minor = parts.next()?.parse().ok()?;
    let patch_text = parts.next()?;
    let digits = patch_text
        .find(|c: char| !c.is_ascii_digit())
        .map_or(patch_text, |end| &patch_text[..end]);
    Some((minor, digits.parse().ok()?))
}
