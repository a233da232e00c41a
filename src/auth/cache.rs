//! [`AuthCache`]: what the database last said about a credential (an API token or a session
//! cookie), kept so a request that presents it again needs no database hop to be identified.
//!
//! An entry is only trusted while nothing has been committed to the database since it was read:
//! every lookup first compares [`Db::data_version`], which changes on any commit by any
//! connection (this server's writer, a pooled reader's bookkeeping write, or `labgate user
//! disable` from another process). So revoking or purging tokens, disabling a user, logging out
//! and ending a booking take effect on the very next request, exactly as without the cache;
//! the cache only helps while the database is not being written, which is most of the time.
//! Entries are keyed by the SHA-256 of the secret, never the secret itself, and end at the
//! credential's own expiry or the `until` their owner sets, whichever comes first. The same
//! rule keeps a member's key list for the `/sshkeys` page ([`crate::keys::KeyListCache`]).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::db::Db;

/// Entries kept at most; past it the cache starts again empty (a burst of distinct
/// credentials cannot make it grow without bound).
const MAX_ENTRIES: usize = 10_000;

/// A cache of identified credentials, valid while the database is unchanged.
pub struct AuthCache<V> {
    state: Mutex<State<V>>,
    /// Entries kept at most.
    max: usize,
}

struct State<V> {
    /// The data version the entries were read under.
    version: Option<i64>,
    entries: HashMap<[u8; 32], (V, i64)>,
}

/// The data version a lookup saw; an entry read from the database after it is stored under it.
#[derive(Debug, Clone, Copy)]
pub struct Seen(Option<i64>);

/// The cache key of a secret: its SHA-256.
pub fn key_of(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl<V: Clone> Default for AuthCache<V> {
    fn default() -> Self {
        AuthCache::with_capacity(MAX_ENTRIES)
    }
}

impl<V: Clone> AuthCache<V> {
    /// A cache that keeps at most `max` entries (for values larger than a credential's).
    pub fn with_capacity(max: usize) -> Self {
        AuthCache {
            state: Mutex::new(State {
                version: None,
                entries: HashMap::new(),
            }),
            max,
        }
    }

    /// The entry for `key` if the database is unchanged since it was stored and `now` is before
    /// its end; also what the lookup saw, to pass to [`AuthCache::put`] after a database read.
    pub fn get(&self, db: &Db, key: &[u8; 32], now: i64) -> (Option<V>, Seen) {
        let version = db.data_version();
        let Ok(mut state) = self.state.lock() else {
            return (None, Seen(None));
        };
        if version.is_none() || state.version != version {
            state.entries.clear();
            state.version = version;
        }
        let found = match state.entries.get(key) {
            Some((value, until)) if now < *until => Some(value.clone()),
            Some(_) => {
                state.entries.remove(key);
                None
            }
            None => None,
        };
        (found, Seen(version))
    }

    /// Stores what the database said about `key`, read after the lookup that returned `seen`,
    /// to be trusted until unix time `until`. Nothing is stored when the database may have
    /// changed since `seen` (the next lookup would find out anyway).
    pub fn put(&self, seen: Seen, key: [u8; 32], value: V, until: i64) {
        let Some(version) = seen.0 else {
            return;
        };
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.version != Some(version) {
            return;
        }
        if state.entries.len() >= self.max {
            state.entries.clear();
        }
        state.entries.insert(key, (value, until));
    }

    /// Forgets everything (for changes the database version cannot show).
    pub fn clear(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_by_another_connection_empties_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let cache = AuthCache::<u32>::default();
        let key = key_of("secret");
        let (found, seen) = cache.get(&db, &key, 100);
        assert_eq!(found, None);
        cache.put(seen, key, 7, 200);
        assert_eq!(cache.get(&db, &key, 150).0, Some(7));
        assert_eq!(cache.get(&db, &key, 200).0, None, "past its end");
        let (_, seen) = cache.get(&db, &key, 100);
        cache.put(seen, key, 7, 200);
        db.write_blocking(|tx| crate::db::set_setting(tx, "x", "y"))
            .unwrap();
        assert_eq!(cache.get(&db, &key, 150).0, None);
    }

    #[test]
    fn nothing_read_before_a_commit_is_stored_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let cache = AuthCache::<u32>::default();
        let key = key_of("secret");
        let (_, stale) = cache.get(&db, &key, 100);
        db.write_blocking(|tx| crate::db::set_setting(tx, "x", "y"))
            .unwrap();
        // Another request notices the commit first.
        let _ = cache.get(&db, &key_of("other"), 100);
        cache.put(stale, key, 7, 200);
        assert_eq!(cache.get(&db, &key, 150).0, None);
    }
}
