//! crumb's integration tests as one binary (one link instead of one per file, as ripgrep does):
//! each file beside this one is a module, and `common/` holds the fixtures they share.

mod common;

mod abuse;
mod attacks;
mod authz;
mod caddy;
mod canonical;
mod cli;
mod client;
mod config;
mod contract;
mod delegation;
mod delegation_properties;
mod fuzz_regressions;
mod generated;
mod haproxy;
mod health;
mod interop;
mod json_contract;
mod ledger;
mod ledger_conformance;
mod ledger_faults;
mod ledger_races;
mod ledger_tls;
mod ledger_url;
mod mcp;
mod nginx;
mod operations;
mod own_vectors;
mod properties;
mod proxy;
mod rate_limits;
mod readme_tour;
mod replicas;
mod scenario;
mod security_properties;
mod server;
mod third_party;
mod tls_listeners;
mod trust;
mod usage;
mod vectors;
mod windows;
