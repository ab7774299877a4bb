use super::Rule;

pub(crate) static RULE: &dyn Rule = &NotChecked;

struct NotChecked;

impl Rule for NotChecked {
    fn id(&self) -> &'static str {
        "not-checked"
    }

    fn doc(&self) -> &'static str {
        r#"# not-checked

## What it finds
A file named on the command line (as a pre-commit hook names the changed
files) that scar could not read or check: it does not exist or cannot be
read, it is not a regular file (a FIFO, a socket, a device), it is binary or
not UTF-8, or it is larger than `--max-file-size` (50 MB by default). Files
found by walking a folder are listed as skipped instead.

## Why it matters
A check that passes a file it never read is worse than no check: the commit
that adds a broken or oversized manifest would go green, and the outage it
carries would ship as reviewed. A hook sees exactly the files people
change, so it must say when it could not look at one.

## What to write instead
Save configuration as UTF-8 text; split generated bundles larger than the
limit, or raise it (`--max-file-size 200`); leave files that are not
configuration out of the hook's `files:` pattern:

```yaml
- id: scar-lint
  exclude: ^docs/diagrams/
```
"#
    }
}
