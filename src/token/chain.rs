//! The HMAC-SHA256 chain every macaroon library shares (libmacaroons' construction):
//! key derivation, first- and third-party caveat steps, and binding a discharge to its root.

use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// A 32-byte chain value: a signature, or a derived key (they are the same thing).
pub type Sig = [u8; 32];

const KEY_GENERATOR: &[u8] = b"macaroons-key-generator";
/// Length of the nonce prefixed to a third-party verification id.
pub const VID_NONCE_LEN: usize = 24;
/// nonce || poly1305 tag || 32-byte ciphertext.
pub const VID_LEN: usize = VID_NONCE_LEN + 16 + 32;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `msg` under `key`.
#[inline]
pub fn hmac(key: &[u8], msg: &[u8]) -> Sig {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// The key the chain starts from: the root key goes in as the HMAC message, not the key.
pub fn derive_key(root_key: &[u8]) -> Zeroizing<Sig> {
    Zeroizing::new(hmac(KEY_GENERATOR, root_key))
}

/// The signature of a fresh macaroon (derives the key from the root key first).
pub fn mint_signature(root_key: &[u8], identifier: &[u8]) -> Sig {
    hmac(derive_key(root_key).as_ref(), identifier)
}

/// One first-party caveat step.
#[inline]
pub fn first_party(sig: &Sig, predicate: &[u8]) -> Sig {
    hmac(sig, predicate)
}

/// One third-party caveat step: an outer HMAC over the HMACs of the vid and the cid.
pub fn third_party(sig: &Sig, vid: &[u8], cid: &[u8]) -> Sig {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(&hmac(sig, vid));
    both[32..].copy_from_slice(&hmac(sig, cid));
    hmac(sig, &both)
}

/// Binds a discharge's signature to the root macaroon's, so it is useless with any other root.
pub fn bind(root_sig: &Sig, discharge_sig: &Sig) -> Sig {
    let zero = [0u8; 32];
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(&hmac(&zero, root_sig));
    both[32..].copy_from_slice(&hmac(&zero, discharge_sig));
    hmac(&zero, &both)
}

/// Seals the derived caveat key under the current signature (NaCl secretbox, nonce in front).
pub fn seal_caveat_key(sig: &Sig, nonce: &[u8; VID_NONCE_LEN], caveat_root_key: &[u8]) -> Vec<u8> {
    let derived = derive_key(caveat_root_key);
    let cipher = XSalsa20Poly1305::new(sig.into());
    let mut body = *derived;
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(nonce), b"", &mut body)
        .expect("secretbox encryption of 32 bytes cannot fail");
    // NaCl layout: nonce, then the Poly1305 tag, then the ciphertext.
    let mut vid = Vec::with_capacity(VID_LEN);
    vid.extend_from_slice(nonce);
    vid.extend_from_slice(&tag);
    vid.extend_from_slice(&body);
    body.zeroize();
    vid
}

/// Opens a verification id with the running signature, giving the discharge's (already derived) key.
pub fn open_caveat_key(sig: &Sig, vid: &[u8]) -> Option<Zeroizing<Sig>> {
    if vid.len() != VID_LEN {
        return None;
    }
    let (nonce, sealed) = vid.split_at(VID_NONCE_LEN);
    let (tag, body) = sealed.split_at(16);
    let cipher = XSalsa20Poly1305::new(sig.into());
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(body);
    cipher
        .decrypt_in_place_detached(Nonce::from_slice(nonce), b"", key.as_mut(), tag.into())
        .ok()?;
    Some(key)
}

/// Compares two signatures without leaking where they differ.
#[inline]
pub fn signatures_match(a: &Sig, b: &Sig) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_matches_libmacaroons() {
        // From the shared vectors: root key "this is our super secret key; only we should know it",
        // identifier "we used our secret key", no caveats.
        let sig = mint_signature(
            b"this is our super secret key; only we should know it",
            b"we used our secret key",
        );
        assert_eq!(hex::encode(sig), "e3d9e02908526c4c0039ae15114115d97fdd68bf2ba379b342aaf0f617d0552f");
    }

    #[test]
    fn sealed_key_opens_only_with_the_same_signature() {
        let sig = [7u8; 32];
        let vid = seal_caveat_key(&sig, &[1u8; 24], b"caveat key");
        assert_eq!(vid.len(), VID_LEN);
        assert_eq!(*open_caveat_key(&sig, &vid).unwrap(), *derive_key(b"caveat key"));
        assert!(open_caveat_key(&[8u8; 32], &vid).is_none());
        assert!(open_caveat_key(&sig, &vid[..40]).is_none());
    }

    #[test]
    fn binding_depends_on_both_signatures() {
        assert_ne!(bind(&[1; 32], &[2; 32]), bind(&[3; 32], &[2; 32]));
        assert_ne!(bind(&[1; 32], &[2; 32]), bind(&[1; 32], &[4; 32]));
    }
}
