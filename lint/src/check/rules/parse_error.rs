use super::Rule;

pub(crate) static RULE: &dyn Rule = &ParseError;

struct ParseError;

impl Rule for ParseError {
    fn id(&self) -> &'static str {
        "parse-error"
    }

    fn doc(&self) -> &'static str {
        r#"# parse-error

## What it finds
A YAML file or systemd unit that does not parse. The finding points where the
parser stopped.

## Why it matters
A manifest that does not parse is not applied, and a unit that does not parse
is not started; scar also cannot check anything else in the file. One broken
file never stops scar from checking the others.

## What to write instead
Fix the syntax at the reported position. Unrendered Helm or Jinja templates
(files with `{{ }}`) are not reported here: they are listed as skipped with
the reason `template`. Render them first (`helm template`) and lint the output.
"#
    }
}
