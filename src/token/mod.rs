//! The macaroon itself: a location hint, an identifier, an ordered list of caveats and the
//! chained signature. A `Macaroon` is *unverified*: decoding proves nothing about it.
//! Only [`crate::verify::Verifier`] turns one into a [`crate::verify::Verified`].

pub mod chain;
pub mod identifier;
pub mod wire;

use crate::key::RootKey;
use bytes::Bytes;
use chain::Sig;

pub use identifier::TokenId;
use sha2::{Digest, Sha256};
pub use wire::Format;

/// Names the exact token presented (all of its caveats, through the signature) without
/// storing anything a bearer could use.
pub fn presented_fingerprint(token: &Macaroon) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"crumb presented token v1\0");
    h.update(token.signature);
    h.finalize().into()
}

/// One caveat as it sits on the wire: a first-party predicate (no `vid`) or a third-party
/// caveat (with the sealed caveat key in `vid` and a location hint).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RawCaveat {
    /// The predicate bytes (first-party) or the caveat identifier given to the third party.
    pub id: Bytes,
    /// Verification id: present exactly for third-party caveats.
    pub vid: Option<Bytes>,
    /// Where to get a discharge. `None` when absent on the wire, so re-encoding is byte-exact.
    pub location: Option<String>,
}

impl RawCaveat {
    pub fn first_party(predicate: impl Into<Bytes>) -> Self {
        RawCaveat { id: predicate.into(), vid: None, location: None }
    }

    pub fn is_third_party(&self) -> bool {
        self.vid.is_some()
    }

    /// The predicate as text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.id).ok()
    }
}

/// A macaroon as decoded or built, not yet verified.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Macaroon {
    /// Hint only: not covered by the signature. `None` when absent on the wire.
    pub location: Option<String>,
    pub identifier: Bytes,
    pub caveats: Vec<RawCaveat>,
    pub signature: Sig,
}

impl Macaroon {
    /// A new macaroon signed by `root_key`.
    pub fn mint(root_key: &RootKey, identifier: impl Into<Bytes>, location: Option<String>) -> Self {
        let identifier = identifier.into();
        let signature = chain::mint_signature(root_key.expose(), &identifier);
        Macaroon { location, identifier, caveats: Vec::new(), signature }
    }

    /// Appends a first-party caveat; anyone holding the token can do this, and it only narrows.
    pub fn add_first_party(&mut self, predicate: impl Into<Bytes>) {
        let predicate = predicate.into();
        self.signature = chain::first_party(&self.signature, &predicate);
        self.caveats.push(RawCaveat::first_party(predicate));
    }

    /// Appends a third-party caveat whose discharge must be minted with `caveat_root_key`.
    /// `nonce` is normally random; it is a parameter so interop tests can reproduce other libraries.
    pub fn add_third_party(
        &mut self,
        caveat_root_key: &RootKey,
        caveat_id: impl Into<Bytes>,
        location: Option<String>,
        nonce: &[u8; chain::VID_NONCE_LEN],
    ) {
        let caveat_id = caveat_id.into();
        let vid = chain::seal_caveat_key(&self.signature, nonce, caveat_root_key.expose());
        self.signature = chain::third_party(&self.signature, &vid, &caveat_id);
        self.caveats.push(RawCaveat { id: caveat_id, vid: Some(vid.into()), location });
    }

    /// Appends a third-party caveat whose caveat key is already derived (re-issuing a caveat
    /// opened from another token, as a successor does).
    pub fn add_third_party_derived(
        &mut self,
        derived_key: &Sig,
        caveat_id: impl Into<Bytes>,
        location: Option<String>,
        nonce: &[u8; chain::VID_NONCE_LEN],
    ) {
        let caveat_id = caveat_id.into();
        let vid = chain::seal_derived_key(&self.signature, nonce, derived_key);
        self.signature = chain::third_party(&self.signature, &vid, &caveat_id);
        self.caveats.push(RawCaveat { id: caveat_id, vid: Some(vid.into()), location });
    }

    /// Appends a third-party caveat with a fresh random nonce.
    pub fn add_third_party_random(
        &mut self,
        caveat_root_key: &RootKey,
        caveat_id: impl Into<Bytes>,
        location: Option<String>,
    ) -> Result<(), crate::error::KeyError> {
        let mut nonce = [0u8; chain::VID_NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|e| crate::error::KeyError::Random(e.to_string()))?;
        self.add_third_party(caveat_root_key, caveat_id, location, &nonce);
        Ok(())
    }

    /// A copy of `discharge` bound to this (root) macaroon, as libmacaroons' prepare-for-request.
    pub fn bind(&self, discharge: &Macaroon) -> Macaroon {
        let mut bound = discharge.clone();
        bound.signature = chain::bind(&self.signature, &discharge.signature);
        bound
    }

    /// The crumb identifier fields, when this token was minted by crumb.
    pub fn token_id(&self) -> Option<TokenId> {
        TokenId::parse(&self.identifier)
    }

    pub fn first_party_texts(&self) -> impl Iterator<Item = &[u8]> {
        self.caveats.iter().filter(|c| !c.is_third_party()).map(|c| c.id.as_ref())
    }
}
