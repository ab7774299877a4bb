use crate::model::k8s::webhook::fail_closed_service_calls;
use crate::model::k8s::Object;
use crate::model::source::Related;

use super::{Diagnosis, Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &WebhookBackendNoProbes;

struct WebhookBackendNoProbes;

impl Rule for WebhookBackendNoProbes {
    fn id(&self) -> &'static str {
        "webhook-backend-no-probes"
    }

    fn doc(&self) -> &'static str {
        r#"# webhook-backend-no-probes

## What it finds
A fail-closed admission webhook whose backend containers (those listening
on the Service's target port, or all of them when none declares it) lack a
`livenessProbe` or a `readinessProbe`. The finding says which container
lacks which, and points at each such container (and, in a chart, at the
helper line that writes it).

One finding per backend: when several webhooks or aggregated APIs call
the same workload, it is reported once, at the first of them, naming
every caller.

## Why it matters
Without a readiness probe, a backend Pod receives webhook calls before it
can answer them; without a liveness probe, a backend that hangs stays hung.
Jetstack's OPA webhook stopped answering during a GKE master upgrade and was
never restarted: the fail-closed webhook kept the new API server from
starting, and node auto-repair recreated every node. A liveness probe would
have restarted it.

## What to write instead
```yaml
containers:
- name: opa
  readinessProbe:
    httpGet: {path: /health, port: 8443, scheme: HTTPS}
  livenessProbe:
    httpGet: {path: /health, port: 8443, scheme: HTTPS}
    periodSeconds: 10
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        for call in fail_closed_service_calls(object) {
            let (name, reach) = (call.webhook, call.reach);
            out.report_if(call.anchor, move |lookup| {
                let backend = lookup.backend(&call.namespace, &call.service)?;
                let (mut no_liveness, mut no_readiness) = (false, false);
                let mut gaps = Vec::new();
                let mut related = Vec::new();
                for (workload, container) in backend.serving_containers() {
                    no_liveness |= !container.liveness;
                    no_readiness |= !container.readiness;
                    let missing: Vec<&str> = [
                        (!container.liveness).then_some("livenessProbe"),
                        (!container.readiness).then_some("readinessProbe"),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    if missing.is_empty() {
                        continue;
                    }
                    let missing = missing.join(" and no ");
                    gaps.push(format!(
                        "container `{}` of {} ({}) has no {missing}",
                        container.name,
                        workload.describe(),
                        workload.at,
                    ));
                    if let Some(written) = &container.written_at {
                        related.push(Related {
                            at: written.at.clone(),
                            message: format!(
                                "container `{}` of {} has no {missing}",
                                container.name,
                                workload.describe()
                            ),
                        });
                        related.extend(written.by.iter().cloned());
                    }
                }
                // What the missing probes cost: a hung server is never
                // restarted, or keeps getting calls while it cannot answer.
                let consequence = match (no_liveness, no_readiness) {
                    (true, true) => "is neither restarted nor taken out of rotation",
                    (true, false) => "is not restarted",
                    _ => "keeps getting calls",
                };
                (!gaps.is_empty()).then(|| Diagnosis {
                    message: format!(
                        "webhook `{name}` fails closed and its backend {consequence} when it stops answering: {}",
                        gaps.join("; ")
                    ),
                    help: "give the backend containers a livenessProbe and a readinessProbe on the webhook server's health endpoint".to_string(),
                    cause: Some(backend.cause("fail-closed webhook", &name, reach)),
                    related,
                    ..Diagnosis::default()
                })
            });
        }
    }
}
