//! Prometheus metrics, through the `prometheus` crate (its counters and histograms are atomics:
//! nothing on a request's path takes a lock). Every handle a request touches is made once at
//! start: one per route, and one per route and common status (a rare status is looked up in
//! its family, the one path that locks).
//!
//! Names follow Prometheus's conventions (`_total` counters, `_seconds` durations, base units):
//! - `crumb_requests_total{route,status}`, `crumb_request_seconds{route}` (a histogram, its
//!   buckets from 0.5 ms to 120 s: a proxied call may take the upstream timeout, 60 s by
//!   default);
//! - `crumb_spends_total`, `crumb_credits_charged_total`, `crumb_double_spend_attempts_total`,
//!   `crumb_holds_in_flight` (tokens held while their request is at the upstream);
//! - `crumb_ledger_operation_duration_seconds{backend,operation}`,
//!   `crumb_ledger_errors_total{backend}` ([`super::ledger_metrics`]);
//! - `crumb_build_info{version,commit,features}` (always 1).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::HashMap;
use std::time::Duration;

/// Request duration buckets, in seconds: from a cached verify to a long proxied answer.
const REQUEST_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Ledger operation buckets, in seconds: a read, a group commit's fsync, a retried write.
const LEDGER_BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The statuses whose counters are made at start, per route.
const COMMON_STATUSES: &[u16] = &[200, 400, 401, 402, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503, 504];

/// The handles of one route.
struct Route {
    duration: prometheus::Histogram,
    by_status: Vec<(u16, IntCounter)>,
}

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    routes: HashMap<&'static str, Route>,
    pub spends: IntCounter,
    pub credits_charged: IntCounter,
    pub double_spend_attempts: IntCounter,
    pub holds_in_flight: IntGauge,
    ledger_operations: HistogramVec,
    ledger_errors: IntCounterVec,
}

impl Default for Metrics {
    /// The metrics of the service's routes.
    fn default() -> Self {
        Metrics::new(super::ROUTES)
    }
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("a valid metric");
    registry.register(Box::new(c.clone())).expect("registered once");
    c
}

impl Metrics {
    /// The metrics of a server whose routes are `routes` (the patterns its requests are
    /// labelled with); any other route is labelled as it comes.
    pub fn new(routes: &[&'static str]) -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("crumb_requests_total", "HTTP requests answered, by route and status."),
            &["route", "status"],
        )
        .expect("a valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new("crumb_request_seconds", "How long requests took to answer, by route.")
                .buckets(REQUEST_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("a valid metric");
        let ledger_operations = HistogramVec::new(
            HistogramOpts::new(
                "crumb_ledger_operation_duration_seconds",
                "How long ledger operations took, by backend and operation (a write includes its commit).",
            )
            .buckets(LEDGER_BUCKETS.to_vec()),
            &["backend", "operation"],
        )
        .expect("a valid metric");
        let ledger_errors = IntCounterVec::new(
            Opts::new("crumb_ledger_errors_total", "Ledger operations that failed, by backend."),
            &["backend"],
        )
        .expect("a valid metric");
        let build = IntGaugeVec::new(
            Opts::new("crumb_build_info", "The running build: always 1."),
            &["version", "commit", "features"],
        )
        .expect("a valid metric");
        build
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                option_env!("CRUMB_COMMIT").unwrap_or("unknown"),
                option_env!("CRUMB_FEATURES").unwrap_or("unknown"),
            ])
            .set(1);
        for m in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(ledger_operations.clone()),
            Box::new(ledger_errors.clone()),
            Box::new(build),
        ] {
            registry.register(m).expect("registered once");
        }
        let routes = routes
            .iter()
            .chain(["proxy", "unmatched"].iter())
            .map(|&route| {
                let by_status = COMMON_STATUSES
                    .iter()
                    .map(|s| (*s, requests.with_label_values(&[route, &s.to_string()])))
                    .collect();
                (route, Route { duration: duration.with_label_values(&[route]), by_status })
            })
            .collect();
        let holds_in_flight =
            IntGauge::new("crumb_holds_in_flight", "Tokens held while their request is at the upstream.")
                .expect("a valid metric");
        registry.register(Box::new(holds_in_flight.clone())).expect("registered once");
        Metrics {
            spends: counter(&registry, "crumb_spends_total", "Committed spends, splits and proxied charges."),
            credits_charged: counter(
                &registry,
                "crumb_credits_charged_total",
                "Credits charged by spends and proxied requests.",
            ),
            double_spend_attempts: counter(
                &registry,
                "crumb_double_spend_attempts_total",
                "Spends of tokens already spent.",
            ),
            holds_in_flight,
            registry,
            requests,
            routes,
            ledger_operations,
            ledger_errors,
        }
    }

    /// Counts one answered request of `route` (one of the service's route patterns).
    pub fn observe(&self, route: &'static str, status: u16, elapsed: Duration) {
        match self.routes.get(route) {
            Some(r) => {
                r.duration.observe(elapsed.as_secs_f64());
                match r.by_status.iter().find(|(s, _)| *s == status) {
                    Some((_, c)) => c.inc(),
                    None => self.requests.with_label_values(&[route, &status.to_string()]).inc(),
                }
            }
            None => self.requests.with_label_values(&[route, &status.to_string()]).inc(),
        }
    }

    /// The handles one ledger backend's operations are measured with.
    pub fn ledger(&self, backend: &str) -> super::ledger_metrics::Handles {
        super::ledger_metrics::Handles::new(
            backend,
            &self.ledger_operations,
            self.ledger_errors.with_label_values(&[backend]),
        )
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot render the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
