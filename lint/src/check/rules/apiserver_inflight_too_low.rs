use crate::model::control_plane::{object_flags, unit_flags, Component, Flag};
use crate::model::k8s::Object;
use crate::model::parse::systemd::Unit;

use super::{Emitter, Rule};

pub(crate) static RULE: &dyn Rule = &ApiserverInflightTooLow;

struct ApiserverInflightTooLow;

impl Rule for ApiserverInflightTooLow {
    fn id(&self) -> &'static str {
        "apiserver-inflight-too-low"
    }

    fn doc(&self) -> &'static str {
        r#"# apiserver-inflight-too-low

## What it finds
kube-apiserver flags that set `--max-requests-inflight` below
`min_requests_inflight` (default 400, the upstream default) or
`--max-mutating-requests-inflight` below `min_mutating_requests_inflight`
(default 200), or `--enable-priority-and-fairness=false`. Found in static
Pod manifests (`command`/`args`), systemd `ExecStart=`, kubeadm
`ClusterConfiguration` `apiServer.extraArgs` (the v1beta3 map and the v1beta4
list), and kind cluster configs' `kubeadmConfigPatches`. A value of 0 means
no limit and is not reported.

## Why it matters
These limits are how many requests the API server works on at once; past
them it answers HTTP 429. When 15 Deployments were updated at once, a
cluster's API server answered every request with 429 and controllers could
not make progress. Lower limits reach that point with smaller bursts, and
without API Priority and Fairness one noisy client takes the whole budget,
so kubelets and controllers are starved along with it.

## What to write instead
Leave the defaults (or raise them with the control plane's size) and keep
API Priority and Fairness on:

```yaml
apiServer:
  extraArgs:
    max-requests-inflight: "400"
    max-mutating-requests-inflight: "200"
```
"#
    }

    fn check_object(&self, object: &Object<'_>, out: &mut Emitter<'_>) {
        check(object_flags(object, Component::ApiServer), out);
    }

    fn check_unit(&self, unit: &Unit<'_>, out: &mut Emitter<'_>) {
        check(unit_flags(unit, Component::ApiServer), out);
    }
}

fn check(flags: Vec<Flag>, out: &mut Emitter<'_>) {
    let limits = [
        ("max-requests-inflight", out.params().int("min_requests_inflight")),
        ("max-mutating-requests-inflight", out.params().int("min_mutating_requests_inflight")),
    ];
    for flag in flags {
        if flag.name == "enable-priority-and-fairness" && flag.value == "false" {
            out.report(
                flag.span,
                "kube-apiserver runs without API Priority and Fairness: one burst of requests starves every other client, kubelets and controllers included",
                "remove --enable-priority-and-fairness=false",
            );
            continue;
        }
        let Some((_, min)) = limits.iter().find(|(name, _)| *name == flag.name) else {
            continue;
        };
        let Ok(value) = flag.value.trim().parse::<i64>() else {
            continue;
        };
        if value > 0 && value < *min {
            out.report(
                flag.span,
                format!(
                    "kube-apiserver --{} is {value}, under {min}: a burst of deploys gets HTTP 429 for every client",
                    flag.name
                ),
                format!("set --{} to {min} or more (the default), or remove it", flag.name),
            );
        }
    }
}
