use crate::model::parse::systemd::{timespan_seconds, Unit};

use super::{Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &UnitStartTimeoutInfinite;

struct UnitStartTimeoutInfinite;

impl Rule for UnitStartTimeoutInfinite {
    fn id(&self) -> &'static str {
        "unit-start-timeout-infinite"
    }

    fn doc(&self) -> &'static str {
        r#"# unit-start-timeout-infinite

## What it finds
`TimeoutStartSec=0` or `TimeoutStartSec=infinity` (or the same in
`TimeoutSec=`, which sets both the start and stop timeouts) on a daemon (a service
whose `Type=` is not `oneshot`; one-shot jobs legitimately run long).

## Why it matters
With no start timeout, a daemon that hangs while starting is never killed
and never restarted: its `Restart=` policy does not apply, because the start
never failed. The etcd containers of incident 1 were started by such
wrappers; a start that blocks on a stuck image pull, a dead registry or an
etcd waiting for peers stays blocked until a person notices.

## What to write instead
A finite timeout long enough for a slow start, so a hung one is retried:

```ini
[Service]
TimeoutStartSec=5min
Restart=on-failure
```
"#
    }

    fn check_unit(&self, unit: &Unit<'_>, out: &mut Emitter<'_>) {
        if unit.last("Service", "Type").is_some_and(|t| t.value == "oneshot") {
            return;
        }
        // `TimeoutSec=` sets the start and stop timeouts at once.
        let Some(timeout) = unit
            .last("Service", "TimeoutStartSec")
            .or_else(|| unit.last("Service", "TimeoutSec"))
        else {
            return;
        };
        let infinite = timespan_seconds(&timeout.value).is_some_and(|s| s == 0.0 || s.is_infinite());
        if infinite {
            out.report(
                timeout.key_span.to(timeout.value_span),
                format!(
                    "{}={}: a start that hangs is never killed, so Restart= never gets to retry it",
                    timeout.key, timeout.value
                ),
                "set a finite TimeoutStartSec= long enough for a slow start, such as 5min",
            );
        }
    }
}
