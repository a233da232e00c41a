//! The decoded key blob: the type and size policy, RSA modulus checks and the stored form.

use std::borrow::Cow;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use ssh_key::public::{KeyData, RsaPublicKey};
use ssh_key::{EcdsaCurve, PublicKey};

use super::{
    malformed, type_name, KeyError, ParsedKey, ACCEPTED, CERT_SUFFIX, DSA, MAX_RSA_BITS,
    MIN_RSA_BITS,
};

/// Applies the type and size policy to a decoded key blob and builds the stored form.
pub(super) fn validate_blob(blob: &[u8], comment: &str) -> Result<ParsedKey, KeyError> {
    let blob_type = blob_type(blob)?;
    if blob_type.ends_with(CERT_SUFFIX) {
        return Err(KeyError::Certificate);
    }
    if blob_type == DSA {
        return Err(KeyError::Dsa);
    }
    if !ACCEPTED.contains(&blob_type.as_ref()) {
        return Err(KeyError::UnsupportedType(type_name(&blob_type)));
    }
    let key = PublicKey::from_bytes(blob)
        .map_err(|_| malformed("the key data is incomplete or damaged"))?;
    let bits = match key.key_data() {
        KeyData::Ed25519(_) | KeyData::SkEd25519(_) => 256,
        KeyData::Ecdsa(ecdsa) => check_curve_point(ecdsa.curve(), ecdsa.as_sec1_bytes())?,
        KeyData::SkEcdsaSha2NistP256(sk) => {
            check_curve_point(EcdsaCurve::NistP256, sk.ec_point().as_bytes())?
        }
        KeyData::Rsa(rsa) => rsa_bits(rsa)?,
        // Unreachable behind the allow-list; kept so a new ssh-key variant cannot slip through.
        _ => return Err(KeyError::UnsupportedType(type_name(&blob_type))),
    };
    // Fingerprint and stored form must describe the same bytes, so the blob has to survive
    // a decode/encode round trip unchanged (this also rejects padding tricks inside fields).
    let encoded = key
        .to_bytes()
        .map_err(|_| malformed("the key data could not be re-encoded"))?;
    if encoded != blob {
        return Err(malformed("the key data is not in its standard encoding"));
    }
    let algorithm = key.algorithm().as_str().to_owned();
    Ok(ParsedKey {
        canonical: format!("{algorithm} {}", STANDARD.encode(blob)),
        fingerprint: format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob))),
        algorithm,
        bits,
        comment: comment.to_owned(),
    })
}

/// Size of the RSA modulus in bits, after checking it against the accepted range.
fn rsa_bits(rsa: &RsaPublicKey) -> Result<u32, KeyError> {
    let invalid = || malformed("the RSA key numbers are invalid");
    let modulus = rsa.n.as_positive_bytes().ok_or_else(invalid)?;
    let exponent = rsa.e.as_positive_bytes().ok_or_else(invalid)?;
    let bits = significant_bits(modulus);
    if bits < MIN_RSA_BITS {
        return Err(KeyError::RsaTooSmall(bits));
    }
    if bits > MAX_RSA_BITS {
        return Err(KeyError::RsaTooLarge(bits));
    }
    // A real modulus is a product of odd primes, and the exponent must be odd and at least 3.
    if !is_odd(modulus) || !is_odd(exponent) || significant_bits(exponent) < 2 {
        return Err(invalid());
    }
    Ok(bits)
}

/// Number of bits in a big-endian unsigned integer, ignoring leading zero bits.
fn significant_bits(bytes: &[u8]) -> u32 {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    match bytes[start..].split_first() {
        None => 0,
        Some((top, rest)) => {
            let bits =
                rest.len().saturating_mul(8).saturating_add(8) - top.leading_zeros() as usize;
            u32::try_from(bits).unwrap_or(u32::MAX)
        }
    }
}

fn is_odd(number: &[u8]) -> bool {
    number.last().is_some_and(|b| b & 1 == 1)
}

/// Checks an ECDSA public point the way OpenSSH's `sshkey_ec_validate_public` does, since
/// ssh-key only checks its length: uncompressed (SEC1 tag 0x04), on the curve and not the
/// point at infinity, and each coordinate longer than half the group order's bits. Returns
/// the curve's size in bits.
fn check_curve_point(curve: EcdsaCurve, point: &[u8]) -> Result<u32, KeyError> {
    let Some((&0x04, coordinates)) = point.split_first() else {
        return Err(malformed(
            "the elliptic-curve point is not in uncompressed form",
        ));
    };
    // NIST curves have prime order of the curve's own size.
    let (bits, on_curve) = match curve {
        EcdsaCurve::NistP256 => (256, p256::PublicKey::from_sec1_bytes(point).is_ok()),
        EcdsaCurve::NistP384 => (384, p384::PublicKey::from_sec1_bytes(point).is_ok()),
        EcdsaCurve::NistP521 => (521, p521::PublicKey::from_sec1_bytes(point).is_ok()),
    };
    if !on_curve {
        return Err(malformed(
            "its elliptic-curve point is not on the curve, so the key data was altered",
        ));
    }
    let (x, y) = coordinates.split_at(coordinates.len() / 2);
    if significant_bits(x) <= bits / 2 || significant_bits(y) <= bits / 2 {
        return Err(malformed(
            "its elliptic-curve point is one that SSH servers refuse as unsafe",
        ));
    }
    Ok(bits)
}

/// Reads the type string that every SSH key blob starts with.
pub(super) fn blob_type(blob: &[u8]) -> Result<Cow<'_, str>, KeyError> {
    let missing = || malformed("the key data is too short to contain a key type");
    let (len, rest) = blob.split_first_chunk::<4>().ok_or_else(missing)?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| missing())?;
    let name = rest.get(..len).ok_or_else(missing)?;
    Ok(String::from_utf8_lossy(name))
}
