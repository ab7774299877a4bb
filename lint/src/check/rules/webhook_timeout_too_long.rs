use crate::model::k8s::webhook::webhooks;
use crate::model::k8s::Object;

use super::{Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &WebhookTimeoutTooLong;

struct WebhookTimeoutTooLong;

impl Rule for WebhookTimeoutTooLong {
    fn id(&self) -> &'static str {
        "webhook-timeout-too-long"
    }

    fn doc(&self) -> &'static str {
        r#"# webhook-timeout-too-long

## What it finds
A fail-closed admission webhook whose `timeoutSeconds` is above
`max_seconds` (default 10). Unset means 10 in `admissionregistration.k8s.io/v1`
and 30 in `v1beta1`.

## Why it matters
While a webhook backend is down or slow, every request it intercepts waits
the whole timeout before failing. AWS App Mesh's Pod webhook was called with
`timeout=30s`: each Pod creation held an API server request for 30 seconds
before being rejected, and controllers retrying those creations piled up
requests on an API server that was already struggling with etcd latency.

## What to write instead
Keep the timeout short, so a dead backend fails requests fast:

```yaml
webhooks:
- name: mpod.appmesh.k8s.aws
  timeoutSeconds: 5
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        let max = out.params().int("max_seconds");
        for webhook in webhooks(object).into_iter().filter(|w| w.fails_closed) {
            let Some(timeout) = webhook.timeout_seconds(object.api_version) else {
                continue;
            };
            if timeout <= max {
                continue;
            }
            let (at, how) = match webhook.node.get("timeoutSeconds") {
                Some(node) => (node.span, format!("timeoutSeconds: {timeout}")),
                None => (webhook.anchor().span, format!("an unset timeoutSeconds, {timeout}s in {}", object.api_version)),
            };
            out.report(
                at,
                format!(
                    "webhook `{}` fails closed with {how}: while its backend is down, every matching request hangs that long before failing",
                    webhook.name
                ),
                format!("set timeoutSeconds to {max} or less"),
            );
        }
    }
}
