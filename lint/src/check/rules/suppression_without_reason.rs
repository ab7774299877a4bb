use super::Rule;

pub(crate) static RULE: &dyn Rule = &SuppressionWithoutReason;

struct SuppressionWithoutReason;

impl Rule for SuppressionWithoutReason {
    fn id(&self) -> &'static str {
        "suppression-without-reason"
    }

    fn doc(&self) -> &'static str {
        r#"# suppression-without-reason

## What it finds
A `# scar:ignore rule-id` comment or a `scar.dev/ignore` annotation that
gives no reason. It suppresses nothing.

## Why it matters
Every rule in scar is a scar from a real outage. Silencing one should leave
a record of why this case is different, for the next person who reads the
file during the next incident. A bare ignore tells them nothing.

## What to write instead
```yaml
metadata:
  annotations:
    scar.dev/ignore: "no-pod-anti-affinity: batch workers, losing a node only delays jobs"
```
```sh
docker run --memory=512M etcd  # scar:ignore etcd-memory-too-low -- test fixture, never in production
```
"#
    }
}
