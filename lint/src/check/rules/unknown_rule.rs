use super::Rule;

pub(crate) static RULE: &dyn Rule = &UnknownRule;

struct UnknownRule;

impl Rule for UnknownRule {
    fn id(&self) -> &'static str {
        "unknown-rule"
    }

    fn doc(&self) -> &'static str {
        r#"# unknown-rule

## What it finds
A suppression (`# scar:ignore …` comment or `scar.dev/ignore` annotation)
that names a rule scar does not have: a misspelt id (`oom-kill-disable` for
`oom-kill-disabled`), or one from another linter.

## Why it matters
A suppression that names no rule silences nothing while looking like it
does: the finding it was meant for stays, or worse, the author believes the
risk was reviewed and excused when it never was. This is an error, not a
note, because it is always a mistake.

## What to write instead
Use the id `scar rules` lists:

```sh
docker run -m 1g --oom-kill-disable redis:7  # scar:ignore oom-kill-disabled -- cache; its health check restarts it
```
"#
    }
}
