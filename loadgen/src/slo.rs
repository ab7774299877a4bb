//! The SLO gate: a run passes when every phase stays within the scenario's
//! limits (or the Kubernetes API call latency SLO by default).

use std::time::Duration;

use serde::Serialize;

use crate::measure::PhaseStats;
use crate::scenario::Slo;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    pub phase: String,
    pub verb: &'static str,
    /// `p99`, `429_ratio` or `error_ratio`.
    pub limit: &'static str,
    pub allowed: f64,
    pub measured: f64,
    pub message: String,
}

/// `1 error`, `3 errors`.
pub fn counted(n: u64, (one, many): (&str, &str)) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

pub fn evaluate(phases: &[PhaseStats], slo: &Slo) -> Vec<Breach> {
    let mut breaches = Vec::new();
    // A rollout that did not complete fails its phase whatever the limits.
    for phase in phases {
        for rollout in &phase.rollouts {
            if let Some(failure) = &rollout.failure {
                breaches.push(Breach {
                    phase: phase.name.clone(),
                    verb: phase.verb.as_str(),
                    limit: "rollout",
                    allowed: 0.0,
                    measured: 1.0,
                    message: format!("{}: {failure}", phase.name),
                });
            }
        }
    }
    for phase in phases.iter().filter(|p| p.completed() > 0) {
        let completed = phase.completed() as f64;
        let verb = phase.verb.as_str();
        if let Some(limit) = slo.p99.get(&phase.verb) {
            let p99 = Duration::from_micros(phase.corrected.value_at_quantile(0.99));
            if p99 > *limit {
                breaches.push(Breach {
                    phase: phase.name.clone(),
                    verb,
                    limit: "p99",
                    allowed: limit.as_secs_f64(),
                    measured: p99.as_secs_f64(),
                    message: format!(
                        "{}: {verb} p99 {:.3}s is above {:.3}s",
                        phase.name,
                        p99.as_secs_f64(),
                        limit.as_secs_f64()
                    ),
                });
            }
        }
        let ratios = [
            (
                "429_ratio",
                phase.outcomes.too_many_requests,
                slo.max_429_ratio,
                ("429", "429s"),
            ),
            (
                "error_ratio",
                phase.outcomes.errors(),
                slo.max_error_ratio,
                ("error", "errors"),
            ),
        ];
        for (limit, count, allowed, what) in ratios {
            let ratio = count as f64 / completed;
            if ratio > allowed {
                breaches.push(Breach {
                    phase: phase.name.clone(),
                    verb,
                    limit,
                    allowed,
                    measured: ratio,
                    message: format!(
                        "{}: {} in {} ({:.2}%), above the {:.2}% allowed",
                        phase.name,
                        counted(count, what),
                        counted(
                            phase.completed(),
                            (&format!("{verb} request"), &format!("{verb} requests"))
                        ),
                        ratio * 100.0,
                        allowed * 100.0
                    ),
                });
            }
        }
    }
    breaches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_in_the_singular_for_one() {
        let errors = ("error", "errors");
        assert_eq!(counted(1, errors), "1 error");
        assert_eq!(counted(0, errors), "0 errors");
        assert_eq!(counted(15, errors), "15 errors");
    }
}
