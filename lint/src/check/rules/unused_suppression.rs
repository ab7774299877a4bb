use super::Rule;

pub(crate) static RULE: &dyn Rule = &UnusedSuppression;

struct UnusedSuppression;

impl Rule for UnusedSuppression {
    fn id(&self) -> &'static str {
        "unused-suppression"
    }

    fn doc(&self) -> &'static str {
        r#"# unused-suppression

## What it finds
A suppression (comment or annotation) with a reason that matches no
finding: the rule id is misspelt, the comment is not on or above the
finding's line, or the problem it excused has been fixed.

## Why it matters
Stale suppressions hide the next real finding on the same line, and a
misspelt one silences nothing while looking like it does. Like an outdated
runbook step, it is trusted precisely when it is wrong.

## What to write instead
Remove the suppression, or fix its rule id and place it at the end of the
finding's line or alone on the line above:

```yaml
  replicas: 1  # scar:ignore dns-single-replica -- single-node lab cluster
```
"#
    }
}
