//! Micro-benchmarks of the per-request costs: key parse + fingerprint per key type, token
//! issue, token verify (cold, and from the cache of verified tokens) next to a bare Ed25519
//! `verify_strict`, and the argon2id password hash. `cargo bench`; figures are per call.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ed25519_dalek::{Signer, SigningKey as DalekKey};
use labgate::auth::cache::{key_of, AuthCache};
use labgate::db::Db;
use labgate::keys::parse::parse_public_key;
use labgate::tokens::jwt::{Claims, SigningKey};

const URL: &str = "http://127.0.0.1:8000";

fn keys(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/");
    let mut group = c.benchmark_group("key parse+fingerprint");
    for file in [
        "ed25519",
        "sk-ed25519",
        "ecdsa256",
        "ecdsa384",
        "ecdsa521",
        "sk-ecdsa",
        "rsa2048",
        "rsa3072",
        "rsa2048.rfc4716",
    ] {
        let text = std::fs::read_to_string(format!("{dir}{file}.pub")).expect("fixture key");
        parse_public_key(&text).expect("fixture parses");
        group.bench_function(file, |b| b.iter(|| parse_public_key(black_box(&text))));
    }
    group.finish();
}

fn claims(now: i64) -> Claims {
    Claims {
        iss: URL.into(),
        aud: URL.into(),
        sub: "alice".into(),
        iat: now,
        nbf: now,
        exp: now + 86400,
        jti: "0f8c7a52-6b1e-4c55-9d0e-3a1f2b4c5d6e".into(),
        sc: "rw".into(),
    }
}

fn tokens(c: &mut Criterion) {
    let key = SigningKey::generate();
    let now = labgate::db::now();
    let claims = claims(now);
    let token = key.sign(&claims);
    c.bench_function("token issue (sign)", |b| {
        b.iter(|| key.sign(black_box(&claims)))
    });
    c.bench_function("token verify, cold (parse + verify_strict + claims)", |b| {
        b.iter(|| key.verify(black_box(&token), URL, URL, now).expect("valid"))
    });

    // The guard's cached path: SHA-256 of the token, the database's data version, a map hit.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(&dir.path().join("bench.db")).expect("db");
    let cache = AuthCache::<String>::default();
    let (_, seen) = cache.get(&db, &key_of(&token), now);
    cache.put(seen, key_of(&token), "alice".into(), now + 3600);
    c.bench_function(
        "token verify, cached (sha256 + data_version + lookup)",
        |b| {
            b.iter(|| {
                let (hit, _) = cache.get(&db, &key_of(black_box(&token)), now);
                hit.expect("cached")
            })
        },
    );

    let dalek = DalekKey::from_bytes(&[7; 32]);
    let (message, _) = token.rsplit_once('.').expect("three segments");
    let signature = dalek.sign(message.as_bytes());
    let public = dalek.verifying_key();
    c.bench_function("bare ed25519 verify_strict", |b| {
        b.iter(|| {
            public
                .verify_strict(black_box(message.as_bytes()), &signature)
                .expect("valid")
        })
    });
}

fn argon2(c: &mut Criterion) {
    let hash = labgate::auth::users::hash_password("correct horse battery").expect("hash");
    let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1");
    group.sample_size(10);
    group.bench_function("hash", |b| {
        b.iter(|| labgate::auth::users::hash_password(black_box("correct horse battery")))
    });
    group.bench_function("verify", |b| {
        b.iter(|| labgate::auth::users::verify_password(&hash, black_box("correct horse battery")))
    });
    group.finish();
}

criterion_group!(benches, keys, tokens, argon2);
criterion_main!(benches);
