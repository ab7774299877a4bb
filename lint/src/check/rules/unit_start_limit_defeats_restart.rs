use crate::model::parse::systemd::{timespan_seconds, Entry, Unit};
use crate::model::quantity::number;

use super::{Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &UnitStartLimitDefeatsRestart;

struct UnitStartLimitDefeatsRestart;

/// systemd's `DefaultStartLimitIntervalSec=` and `DefaultStartLimitBurst=`.
const DEFAULT_INTERVAL_SECONDS: f64 = 10.0;
const DEFAULT_BURST: f64 = 5.0;
/// systemd's default `RestartSec=`.
const DEFAULT_RESTART_SECONDS: f64 = 0.1;

impl Rule for UnitStartLimitDefeatsRestart {
    fn id(&self) -> &'static str {
        "unit-start-limit-defeats-restart"
    }

    fn doc(&self) -> &'static str {
        r#"# unit-start-limit-defeats-restart

## What it finds
A systemd service with `Restart=always` (or `on-failure`, `on-abnormal`,
`on-abort`, `on-watchdog`) whose start limit is reached by its own restarts:
`StartLimitBurst=` starts spaced `RestartSec=` apart fit within
`StartLimitIntervalSec=` (systemd's defaults: 5 starts in 10 s, restarts
100 ms apart). `StartLimitIntervalSec=`/`StartLimitBurst=` belong in
`[Unit]`; the older `StartLimitInterval=` and `StartLimitBurst=` in
`[Service]` are read too, and the `[Unit]` setting wins. A limit of 0
disables limiting, and a `StartLimitAction=` other than `none` is a
deliberate choice; neither is reported.

## Why it matters
When a daemon crash-loops, systemd restarts it until the start limit is
hit, then gives up: the unit is `failed` and stays down until someone runs
`systemctl reset-failed`. etcd, the container runtime and the kubelet all
live under systemd; moby's own docker.service shipped `StartLimitBurst=3`
in `StartLimitInterval=60s` with `RestartSec=2`, so three quick crashes left
a node's Docker, and the etcd container it ran, down for good.

## What to write instead
Space restarts so the limit is never reached by restarts alone, or disable
it:

```ini
[Unit]
StartLimitIntervalSec=0

[Service]
Restart=always
RestartSec=5s
```
"#
    }

    fn check_unit(&self, unit: &Unit<'_>, out: &mut Emitter<'_>) {
        let Some(restart) = unit.last("Service", "Restart") else {
            return;
        };
        if !matches!(
            restart.value.as_str(),
            "always" | "on-failure" | "on-abnormal" | "on-abort" | "on-watchdog"
        ) {
            return;
        }
        if unit
            .last("Unit", "StartLimitAction")
            .is_some_and(|a| a.value != "none")
        {
            return;
        }
        let setting = |unit_key: &str, legacy_key: &str| -> Option<&Entry> {
            unit.last("Unit", unit_key)
                .or_else(|| unit.last("Service", legacy_key))
                .or_else(|| unit.last("Unit", legacy_key))
        };
        let interval_entry = setting("StartLimitIntervalSec", "StartLimitInterval");
        let burst_entry = setting("StartLimitBurst", "StartLimitBurst");
        let restart_sec_entry = unit.last("Service", "RestartSec");
        let interval = match interval_entry {
            Some(entry) => match timespan_seconds(&entry.value) {
                Some(seconds) => seconds,
                None => return,
            },
            None => DEFAULT_INTERVAL_SECONDS,
        };
        let burst = match burst_entry {
            Some(entry) => match entry.value.parse::<f64>() {
                Ok(burst) => burst,
                Err(_) => return,
            },
            None => DEFAULT_BURST,
        };
        let restart_sec = match restart_sec_entry {
            Some(entry) => match timespan_seconds(&entry.value) {
                Some(seconds) => seconds,
                None => return,
            },
            None => DEFAULT_RESTART_SECONDS,
        };
        // Zero disables start limiting.
        if interval == 0.0 || burst == 0.0 {
            return;
        }
        if burst * restart_sec >= interval {
            return;
        }
        let defaults: Vec<&str> = [
            (restart_sec_entry, "RestartSec"),
            (burst_entry, "StartLimitBurst"),
            (interval_entry, "StartLimitIntervalSec"),
        ]
        .into_iter()
        .filter(|(entry, _)| entry.is_none())
        .map(|(_, key)| key)
        .collect();
        let defaults = match defaults.split_last() {
            None => String::new(),
            Some((one, [])) => format!(" ({one} is systemd's default)"),
            Some((last, rest)) => {
                format!(" ({} and {last} are systemd's defaults)", rest.join(", "))
            }
        };
        let related = [
            (restart_sec_entry, "the delay between restarts"),
            (burst_entry, "the starts allowed in the interval"),
            (interval_entry, "the interval starts are counted in"),
        ]
        .into_iter()
        .filter_map(|(entry, what)| {
            let entry = entry?;
            Some((
                entry.key_span.to(entry.value_span),
                format!("{}={}: {what}", entry.key, entry.value),
            ))
        })
        .collect();
        out.report_related(
            restart.key_span.to(restart.value_span),
            format!(
                "Restart={} restarts every {}s, so {} restarts fit in the {}s start limit{defaults}: a crash loop makes systemd give up and the service stays down",
                restart.value,
                number(restart_sec),
                number(burst),
                number(interval),
            ),
            format!(
                "set RestartSec= above {}s, or StartLimitIntervalSec=0 in [Unit]",
                number(interval / burst)
            ),
            related,
        );
    }
}
