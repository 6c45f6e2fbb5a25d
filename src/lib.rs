//! # crumb
//!
//! Macaroon bearer tokens that carry their own limits.
//!
//! A macaroon is an identifier, a list of caveats and a signature chained with HMAC-SHA256
//! from a root key: anyone may append a caveat (the chain moves forward), nobody can take one
//! away (that would need the previous signature, which only the root key can recompute).
//!
//! Invariants this crate keeps:
//! - Decoding ([`token::wire`]) yields an unverified [`Macaroon`]; only [`Verifier`] yields a
//!   [`verify::Verified`], and only a verified token can be spent.
//! - Signatures are compared in constant time; keys are zeroized and never printed.
//! - Every caveat can only narrow authority; a caveat crumb does not understand denies.
//!
//! The crate knows nothing of a command line or HTTP: those are adapters in the binary.

#![forbid(unsafe_code)]

pub mod backoff;
pub mod caveat;
pub mod charge;
pub mod context;
pub mod delegation;
pub mod denial;
pub mod error;
pub mod inspect;
pub mod issuer;
pub mod json;
pub mod key;
pub mod keyring;
pub mod ledger;
pub mod limits;
pub mod lineage;
pub mod outcome;
pub mod presented;
pub mod price;
pub mod private_file;
pub mod revoke;
pub mod shapes;
pub mod spend;
pub mod target;
pub mod token;
pub mod usage;
pub mod verify;

pub use caveat::Caveat;
pub use context::Context;
pub use denial::{Denial, DenialCode};
pub use error::{Error, Result};
pub use issuer::{Clock, Issuer, Verdict};
pub use key::{KeyFormat, RootKey};
pub use keyring::Keyring;
pub use presented::Presented;
pub use token::{Format, Macaroon, RawCaveat, TokenId};
pub use verify::{Verified, Verifier};
