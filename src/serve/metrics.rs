//! Prometheus metrics, rendered by hand: requests by route and status, a latency histogram
//! per route, spends, double-spend attempts and ledger errors.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    total: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    pub spends: AtomicU64,
    pub double_spend_attempts: AtomicU64,
    pub ledger_errors: AtomicU64,
}

impl Metrics {
    /// `route` is one of the service's route patterns (static strings: no allocation per request).
    pub fn observe(&self, route: &'static str, status: u16, elapsed: Duration) {
        *self.requests.lock().unwrap_or_else(|p| p.into_inner()).entry((route, status)).or_default() += 1;
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = latency.entry(route).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        let secs = elapsed.as_secs_f64();
        for (count, bound) in h.counts.iter_mut().zip(BUCKETS) {
            if secs <= *bound {
                *count += 1;
            }
        }
        h.sum += secs;
        h.total += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP crumb_requests_total HTTP requests by route and status.\n# TYPE crumb_requests_total counter\n",
        );
        for ((route, status), n) in self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "crumb_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP crumb_request_seconds Request latency.\n# TYPE crumb_request_seconds histogram\n");
        for (route, h) in self.latency.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            for (count, bound) in h.counts.iter().zip(BUCKETS) {
                let _ = writeln!(out, "crumb_request_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "crumb_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.total);
            let _ = writeln!(out, "crumb_request_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "crumb_request_seconds_count{{route=\"{route}\"}} {}", h.total);
        }
        for (name, help, value) in [
            ("crumb_spends_total", "Committed spends and splits.", &self.spends),
            ("crumb_double_spend_attempts_total", "Spends of tokens already spent.", &self.double_spend_attempts),
            ("crumb_ledger_errors_total", "Ledger failures.", &self.ledger_errors),
        ] {
            let _ =
                writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}
