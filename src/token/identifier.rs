//! Identifiers of tokens that crumb mints.
//!
//! Layout (ASCII, so other libraries print it readably):
//! `crumb1:<key id, 16 hex>:<nonce, 32 hex>` — the key id names the root key in a keyring
//! (rotation), and the 128-bit random nonce names the token in the ledger (spend, revoke).
//! Attenuating keeps the identifier, so a token and all its attenuations share one nonce.
//! An operator credential carries the suffix `:operator`: the identifier is what the root
//! key signs first, so nobody without the root key can make or remove that mark.
//! Identifiers in any other form are foreign: they verify, but the ledger cannot track them.

use std::fmt;

const PREFIX: &str = "crumb1:";
const OPERATOR_SUFFIX: &str = ":operator";
const BODY_LEN: usize = 16 + 1 + 32;

/// Who a token is for, fixed in its signed identifier when it is minted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Role {
    /// An ordinary bearer token: requests, spends, splits.
    #[default]
    Holder,
    /// An operator credential: operator acts (revoke by nonce, cascade) and nothing else.
    Operator,
}

/// A 128-bit token nonce.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Nonce(pub [u8; 16]);

impl Nonce {
    pub fn random() -> Result<Self, crate::error::KeyError> {
        let mut bytes = [0u8; 16];
        getrandom::getrandom(&mut bytes).map_err(|e| crate::error::KeyError::Random(e.to_string()))?;
        Ok(Nonce(bytes))
    }

    pub fn parse_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        Some(Nonce(bytes))
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// The decoded fields of a crumb identifier.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TokenId {
    pub key_id: String,
    pub nonce: Nonce,
    pub role: Role,
}

impl TokenId {
    pub fn new(key_id: &str, nonce: Nonce) -> Self {
        TokenId { key_id: key_id.to_owned(), nonce, role: Role::Holder }
    }

    pub fn operator(key_id: &str, nonce: Nonce) -> Self {
        TokenId { key_id: key_id.to_owned(), nonce, role: Role::Operator }
    }

    pub fn parse(identifier: &[u8]) -> Option<Self> {
        let (body, role) = Self::split(identifier)?;
        let nonce = std::str::from_utf8(&body[17..]).ok()?;
        Some(TokenId {
            key_id: std::str::from_utf8(&body[..16]).ok()?.to_owned(),
            nonce: Nonce::parse_hex(nonce)?,
            role,
        })
    }

    /// Just the key id of a crumb identifier, without allocating: what verification needs.
    pub fn key_id_of(identifier: &[u8]) -> Option<&str> {
        let (body, _) = Self::split(identifier)?;
        std::str::from_utf8(&body[..16]).ok()
    }

    /// The role of a crumb identifier (`None` for identifiers of other libraries).
    pub fn role_of(identifier: &[u8]) -> Option<Role> {
        Self::split(identifier).map(|(_, role)| role)
    }

    /// `<key id>:<nonce>` and the role, when `identifier` is exactly crumb's layout.
    fn split(identifier: &[u8]) -> Option<(&[u8], Role)> {
        let lower_hex = |b: &[u8]| b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        let rest = identifier.strip_prefix(PREFIX.as_bytes())?;
        let (body, role) = match rest.strip_suffix(OPERATOR_SUFFIX.as_bytes()) {
            Some(body) => (body, Role::Operator),
            None => (rest, Role::Holder),
        };
        if body.len() != BODY_LEN || body[16] != b':' || !lower_hex(&body[..16]) || !lower_hex(&body[17..]) {
            return None;
        }
        Some((body, role))
    }

    pub fn encode(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}:{}", self.key_id, self.nonce)?;
        match self.role {
            Role::Holder => Ok(()),
            Role::Operator => f.write_str(OPERATOR_SUFFIX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_lookalikes() {
        let id = TokenId::new("0123456789abcdef", Nonce([9; 16]));
        assert_eq!(TokenId::parse(&id.encode()), Some(id.clone()));
        assert_eq!(id.encode().len(), 7 + 16 + 1 + 32);
        assert!(TokenId::parse(b"crumb1:0123:00").is_none());
        assert!(TokenId::parse(b"we used our secret key").is_none());
        assert!(TokenId::parse(b"crumb1:0123456789abcdeg:09090909090909090909090909090909").is_none());
        let op = TokenId::operator("0123456789abcdef", Nonce([9; 16]));
        assert_eq!(TokenId::parse(&op.encode()), Some(op.clone()));
        assert_eq!(TokenId::role_of(&op.encode()), Some(Role::Operator));
        assert_eq!(TokenId::role_of(&id.encode()), Some(Role::Holder));
        let mut odd = id.encode();
        odd.extend_from_slice(b":admin");
        assert!(TokenId::parse(&odd).is_none());
    }
}
