use crate::model::index::NAMESPACE_NAME_LABEL;
use crate::model::k8s::webhook::webhooks;
use crate::model::k8s::{Labels, Object};

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &WebhookUnscoped;

struct WebhookUnscoped;

const KUBE_SYSTEM: &str = "kube-system";

impl Rule for WebhookUnscoped {
    fn id(&self) -> &'static str {
        "webhook-unscoped"
    }

    fn doc(&self) -> &'static str {
        r#"# webhook-unscoped

## What it finds
An admission webhook that fails closed (effective `failurePolicy: Fail`),
whose `namespaceSelector` does not keep it out of `kube-system`, and whose
rules intercept creates or updates of what the control plane and its add-ons
write to recover: every resource (`*`, `*/*`), or pods, services, configmaps,
secrets, leases, endpoints, endpointslices, nodes, serviceaccounts or events.

kube-system is judged by its labels: those of a `Namespace` object among the
linted files, otherwise the `kubernetes.io/metadata.name: kube-system` label
every namespace carries. So a `NotIn` on `kubernetes.io/metadata.name` listing
kube-system, or an `In`/`matchLabels` opt-in on a label kube-system does not
carry, keeps it out; a `DoesNotExist` opt-out label does only if kube-system
is labelled. A fail-closed webhook on a narrow resource (ingresses) is not
reported, nor one whose `objectSelector` only matches labelled objects (an
opt-in such as `matchLabels: {policy.example.com/enforce: "true"}`): what the
control plane writes does not carry a policy's labels. An `objectSelector`
that only excludes (`DoesNotExist`, `NotIn`) still matches unlabelled objects. Only the webhook configuration is needed: the backend may live
elsewhere.

## Why it matters
Jetstack ran Open Policy Agent as a validating webhook on all resources in
all namespaces with `failurePolicy: Fail`. During a GKE master upgrade OPA did
not answer; the new API server could not update a ConfigMap in kube-system in
its post-start hook, failed its health check and crash-looped, kubelets could
not report node status, and node auto-repair recreated every node.

## What to write instead
Scope the webhook to the resources its policy is about, and keep it out of
kube-system (and its own namespace):

```yaml
webhooks:
- name: validating-webhook.openpolicyagent.org
  failurePolicy: Fail
  namespaceSelector:
    matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: [kube-system, opa]
  rules:
  - apiGroups: [networking.k8s.io]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [ingresses]
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        for webhook in webhooks(object)
            .into_iter()
            .filter(|w| w.fails_closed && !w.opts_objects_in())
        {
            let resources = webhook.intercepted_recovery_resources();
            if resources.is_empty() {
                continue;
            }
            let Some(selector) = webhook.namespace_selector() else {
                continue;
            };
            let name = webhook.name.to_string();
            let how = match &selector {
                None => "has no namespaceSelector".to_string(),
                Some(_) => "has a namespaceSelector that matches kube-system".to_string(),
            };
            out.report_if(webhook.anchor().span, move |lookup| {
                let labels: Labels = lookup.namespace_labels(KUBE_SYSTEM);
                if selector.as_ref().is_some_and(|s| !s.matches(&labels)) {
                    return None;
                }
                Some(Diagnosis {
                    message: format!(
                        "webhook `{name}` fails closed, {how}, and intercepts {}: when its backend is down, the control plane cannot write what it needs to recover",
                        resources.join(", ")
                    ),
                    help: format!(
                        "add a namespaceSelector with `{NAMESPACE_NAME_LABEL} NotIn [kube-system]` and narrow rules to the resources the policy is about"
                    ),
                    ..Diagnosis::default()
                })
            });
        }
    }
}
