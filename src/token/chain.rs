//! The HMAC-SHA256 chain every macaroon library shares (libmacaroons' construction):
//! key derivation, first- and third-party caveat steps, and binding a discharge to its root.

use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use sha2::block_api::compress256;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// A 32-byte chain value: a signature, or a derived key (they are the same thing).
pub type Sig = [u8; 32];

const KEY_GENERATOR: &[u8] = b"macaroons-key-generator";
/// Length of the nonce prefixed to a third-party verification id.
pub const VID_NONCE_LEN: usize = 24;
/// nonce || poly1305 tag || 32-byte ciphertext.
pub const VID_LEN: usize = VID_NONCE_LEN + 16 + 32;

/// SHA-256's initial state.
const IV: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// SHA-256 of one 64-byte block followed by `msg`, straight on the compression function: the
/// chain's HMACs have short keys and short messages, and skipping the generic buffering of a
/// streaming hasher is most of what makes a link cheap.
fn sha256_after_block(first: &[u8; 64], msg: &[u8], wipe_msg: bool) -> [u8; 32] {
    let mut state = IV;
    compress256(&mut state, std::slice::from_ref(first));
    let mut chunks = msg.chunks_exact(64);
    for chunk in &mut chunks {
        compress256(&mut state, std::slice::from_ref::<[u8; 64]>(chunk.try_into().expect("chunks_exact(64)")));
    }
    let rest = chunks.remainder();
    let bit_len = ((64 + msg.len()) as u64) * 8;
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let tail_len = if rest.len() < 56 { 64 } else { 128 };
    tail[tail_len - 8..tail_len].copy_from_slice(&bit_len.to_be_bytes());
    for block in tail[..tail_len].chunks_exact(64) {
        compress256(&mut state, std::slice::from_ref::<[u8; 64]>(block.try_into().expect("chunks_exact(64)")));
    }
    if wipe_msg {
        tail[..rest.len()].zeroize();
    }
    let mut out = [0u8; 32];
    for (word, bytes) in state.iter().zip(out.chunks_exact_mut(4)) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// HMAC-SHA256 of `msg` under `key` (RFC 2104), for chain links.
///
/// Its stack buffers are not wiped: a link's key is an intermediate signature, no more secret
/// than the bearer token that is in memory anyway. Root-key material goes through
/// [`hmac_secret`] instead.
#[inline]
pub fn hmac(key: &[u8], msg: &[u8]) -> Sig {
    hmac_with(key, msg, false)
}

/// HMAC-SHA256 whose stack copies of key and message are zeroized: for root keys and the
/// keys derived from them.
pub fn hmac_secret(key: &[u8], msg: &[u8]) -> Sig {
    hmac_with(key, msg, true)
}

#[inline(always)]
fn hmac_with(key: &[u8], msg: &[u8], secret: bool) -> Sig {
    let hashed;
    let key = if key.len() > 64 {
        hashed = Sha256::digest(key);
        hashed.as_slice()
    } else {
        key
    };
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let inner = sha256_after_block(&ipad, msg, secret);
    let out = sha256_after_block(&opad, &inner, false);
    if secret {
        ipad[..key.len()].zeroize();
        opad[..key.len()].zeroize();
    }
    out
}

/// The key the chain starts from: the root key goes in as the HMAC message, not the key.
pub fn derive_key(root_key: &[u8]) -> Zeroizing<Sig> {
    Zeroizing::new(hmac_secret(KEY_GENERATOR, root_key))
}

/// The signature of a fresh macaroon (derives the key from the root key first).
pub fn mint_signature(root_key: &[u8], identifier: &[u8]) -> Sig {
    hmac_secret(derive_key(root_key).as_ref(), identifier)
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
    seal_derived_key(sig, nonce, &derive_key(caveat_root_key))
}

/// Seals an already derived caveat key (as opened from another token's vid).
pub fn seal_derived_key(sig: &Sig, nonce: &[u8; VID_NONCE_LEN], derived: &Sig) -> Vec<u8> {
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
    cipher.decrypt_in_place_detached(Nonce::from_slice(nonce), b"", key.as_mut(), tag.into()).ok()?;
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
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test cases 1, 2 and 6 (a 131-byte key, hashed first).
        assert_eq!(
            hex::encode(hmac(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex::encode(hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn hmac_agrees_with_the_hmac_crate_at_every_length() {
        use hmac::{Hmac, KeyInit, Mac};
        for len in 0..200 {
            let msg: Vec<u8> = (0..len as u8).collect();
            let mut reference = <Hmac<Sha256> as KeyInit>::new_from_slice(&[9u8; 32]).unwrap();
            reference.update(&msg);
            assert_eq!(hmac(&[9u8; 32], &msg), <[u8; 32]>::from(reference.finalize().into_bytes()), "{len}");
        }
    }

    #[test]
    fn derivation_matches_libmacaroons() {
        // From the shared vectors: root key "this is our super secret key; only we should know it",
        // identifier "we used our secret key", no caveats.
        let sig = mint_signature(b"this is our super secret key; only we should know it", b"we used our secret key");
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
