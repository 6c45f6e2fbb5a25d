//! What a request presents: a token, and the discharges for its third-party caveats. Every
//! operation that acts on a presented token (spend, split, hold, give back, revoke, read its
//! status or lineage) takes one of these, as the adapters decode it from a request.

use crate::token::Macaroon;

/// A token and its discharges, as presented: not verified (only [`crate::Verifier`] makes a
/// [`crate::Verified`]).
#[derive(Clone, Debug)]
pub struct Presented {
    pub token: Macaroon,
    /// One discharge per third-party caveat, in any order (a stray one refuses the token).
    pub discharges: Vec<Macaroon>,
}

impl Presented {
    pub fn new(token: Macaroon, discharges: Vec<Macaroon>) -> Self {
        Presented { token, discharges }
    }

    /// A token that needs no discharges.
    pub fn token(token: Macaroon) -> Self {
        Presented { token, discharges: Vec::new() }
    }
}

impl From<Macaroon> for Presented {
    fn from(token: Macaroon) -> Self {
        Presented::token(token)
    }
}
