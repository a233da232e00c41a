//! Key pairs labgate makes for people who have no key at hand. RSA 3072: the rerobots client
//! loads the private key with paramiko's `RSAKey`, so RSA is the one type every caller takes.
//!
//! Each generation costs about a second of one core, so callers go through
//! [`generate_rsa_off`], which runs at most [`GENERATIONS_AT_ONCE`] of them at a time (the rest
//! wait their turn), and bookings claim their robot before asking for a pair
//! ([`crate::lab::instances::attach_generated`]).

use rand_core::OsRng;
use rocket::tokio::sync::Semaphore;
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use ssh_key::private::{KeypairData, RsaKeypair};
use ssh_key::PrivateKey;

use crate::error::AppError;
use crate::keys::parse::{parse_public_key, ParsedKey};

/// Size of generated RSA keys.
pub const RSA_BITS: usize = 3072;

/// A fresh key pair. The private half never reaches a log.
pub struct KeyPair {
    /// The public key as stored for the instance.
    pub public: ParsedKey,
    /// The private key in OpenSSH format (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    pub openssh: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public.fingerprint)
            .finish_non_exhaustive()
    }
}

fn crypto(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("key pair: {e}"))
}

/// How many key pairs may be generated at once, process-wide. Like the bound on password
/// checks, it keeps a burst of requests from taking every core away from sign-ins and from
/// the robots' key lookups, whoever sends it.
pub const GENERATIONS_AT_ONCE: usize = 2;

static GENERATIONS: Semaphore = Semaphore::const_new(GENERATIONS_AT_ONCE);

/// [`generate_rsa`] on the blocking pool, at most [`GENERATIONS_AT_ONCE`] at a time.
pub async fn generate_rsa_off(comment: String) -> Result<KeyPair, AppError> {
    bounded(&GENERATIONS, move || generate_rsa(&comment)).await?
}

/// Runs `work` on the blocking pool once `gate` lets it in.
async fn bounded<T: Send + 'static>(
    gate: &Semaphore,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _permit = gate
        .acquire()
        .await
        .map_err(|e| AppError::internal(format!("key pair: {e}")))?;
    rocket::tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::internal(format!("key pair task: {e}")))
}

/// Makes an RSA key pair (about a second of CPU: use [`generate_rsa_off`] from a request).
pub fn generate_rsa(comment: &str) -> Result<KeyPair, AppError> {
    let pair = RsaKeypair::random(&mut OsRng, RSA_BITS).map_err(crypto)?;
    let private = PrivateKey::new(KeypairData::Rsa(pair), comment).map_err(crypto)?;
    let public_line = private.public_key().to_openssh().map_err(crypto)?;
    let public = parse_public_key(&public_line).map_err(crypto)?;
    let openssh = private
        .to_openssh(ssh_key::LineEnding::LF)
        .map_err(crypto)?
        .to_string();
    Ok(KeyPair { public, openssh })
}

/// The same RSA private key as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), the form that
/// old and new paramiko alike load.
pub fn to_pkcs1_pem(openssh: &str) -> Result<String, AppError> {
    let private = PrivateKey::from_openssh(openssh).map_err(crypto)?;
    let rsa_pair = private
        .key_data()
        .rsa()
        .ok_or_else(|| crypto("not an RSA key"))?;
    let key = rsa_private_key(rsa_pair)?;
    Ok(key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(crypto)?
        .to_string())
}

/// ssh-key 0.6.7's own conversion passes the prime `p` twice (so it always fails); this one
/// builds the key from n, e, d, p and q.
fn rsa_private_key(pair: &RsaKeypair) -> Result<rsa::RsaPrivateKey, AppError> {
    let uint = |m: &ssh_key::Mpint| {
        m.as_positive_bytes()
            .map(rsa::BigUint::from_bytes_be)
            .ok_or_else(|| crypto("malformed RSA number"))
    };
    rsa::RsaPrivateKey::from_components(
        uint(&pair.public.n)?,
        uint(&pair.public.e)?,
        uint(&pair.private.d)?,
        vec![uint(&pair.private.p)?, uint(&pair.private.q)?],
    )
    .map_err(crypto)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;

    #[test]
    fn no_more_than_the_bound_run_at_once() {
        let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let gate = Arc::new(Semaphore::new(GENERATIONS_AT_ONCE));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let done = runtime.block_on(async {
            let jobs: Vec<_> = (0..12)
                .map(|_| {
                    let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
                    rocket::tokio::spawn(async move {
                        bounded(&gate, move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            // Long enough for unbounded jobs to overlap.
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                    })
                })
                .collect();
            let mut done = 0;
            for job in jobs {
                job.await.unwrap().unwrap();
                done += 1;
            }
            done
        });
        assert_eq!(done, 12, "every job ran in the end");
        let most = most.load(Ordering::SeqCst);
        assert!((1..=GENERATIONS_AT_ONCE).contains(&most), "{most} at once");
    }

    #[test]
    fn rsa_pair_in_both_formats() {
        let pair = generate_rsa("test").unwrap();
        assert_eq!(pair.public.algorithm, "ssh-rsa");
        assert_eq!(pair.public.bits, 3072);
        assert!(pair
            .openssh
            .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        let pem = to_pkcs1_pem(&pair.openssh).unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(&pem).unwrap();
        assert_eq!(key.size() * 8, 3072);
        // The PEM holds the same key as the public half stored for the instance.
        let back = RsaKeypair::try_from(&key).unwrap();
        let line = ssh_key::PublicKey::new(ssh_key::public::KeyData::Rsa(back.public), "")
            .to_openssh()
            .unwrap();
        assert_eq!(
            parse_public_key(&line).unwrap().fingerprint,
            pair.public.fingerprint
        );
    }
}
