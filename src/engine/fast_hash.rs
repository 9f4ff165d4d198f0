//! A fast, deterministic hasher for the keys of ingestion (transaction ids, subscription ids)
//! and of unique counts: SipHash cost about as much per event as reading the event. Eight bytes
//! per step, each step a full mix (splitmix64's), so that every bit of the hash depends on every
//! byte: the store keeps transaction ids by their 64-bit hash, which must not repeat for keys
//! that differ. (One multiply per step, as rustc's FxHash, let a difference in a word's top byte
//! cancel against one in the next word's low byte: `id-100084-aaaa…` and `id-100009-aaaa…`
//! shared a hash, as did 9,968 of the first 300k such ids, and every shared one searched a list
//! of all the others: 3M of them took 30× the time.) Not resistant to chosen collisions: a
//! client sending colliding ids only slows its own ingestion (wasm32's `RandomState` has fixed
//! keys too).

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// `HashSet`/`HashMap` builder of [`FastHasher`].
pub type FastBuild = BuildHasherDefault<FastHasher>;

/// See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        // splitmix64's output mix of the state and the word; the seed keeps a zero word from
        // leaving a zero state as it was.
        let mut mixed = self.0.wrapping_add(SEED) ^ word;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = mixed ^ (mixed >> 31);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])));
        }
        // Byte by byte rather than a copy into a word (a `memcpy` call in WASM); the length tells
        // "a" from "a\0".
        let rest = chunks.remainder();
        let last = rest
            .iter()
            .rev()
            .fold(0_u64, |word, &byte| (word << 8) | u64::from(byte));
        self.add(last ^ ((rest.len() as u64) << 59));
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        // Every step mixed already.
        self.0
    }
}

/// [`FastHasher`]'s hash of a text, as a `HashSet<str>` of [`FastBuild`] hashes it.
pub fn hash_text(text: &str) -> u64 {
    FastBuild::default().hash_one(text)
}

/// `HashMap` builder for keys that are already hashes ([`hash_text`]): the key is the hash.
pub type HashedBuild = BuildHasherDefault<PassThrough>;

/// See [`HashedBuild`].
#[derive(Debug, Default, Clone, Copy)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; any other key still gets a hash.
        let mut hasher = FastHasher(self.0);
        hasher.write(bytes);
        self.0 = hasher.finish();
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequential ids and values of common shapes: none may share a hash with another (the
    /// store keeps transaction ids by their hash, and a shared one costs a search).
    #[test]
    fn structured_keys_never_share_a_hash() {
        const KEYS: u64 = 300_000;
        let shapes: [fn(u64) -> String; 5] = [
            |n| format!("id-{n}-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            |n| n.to_string(),
            |n| format!("evt_{n:010}_batch"),
            |n| format!("user-{n}@example.com"),
            |n| format!("{:08x}-0000-4000-8000-{n:012x}", n * 7919),
        ];
        for shape in shapes {
            let mut seen = std::collections::HashMap::with_capacity(KEYS as usize);
            for n in 0..KEYS {
                let key = shape(n);
                if let Some(other) = seen.insert(hash_text(&key), n) {
                    panic!("{key:?} has the hash of {:?}", shape(other));
                }
            }
        }
        // Runs of NUL words are no fixed point.
        assert_ne!(hash_text(""), hash_text("\0\0\0\0\0\0\0\0"));
    }

    #[test]
    fn keys_that_differ_hash_apart() {
        let build = FastBuild::default();
        let keys = ["", "a", "a\0", "\0a", "abcdefgh", "abcdefgh\0", "abcdefgi"];
        let hashes: std::collections::HashSet<u64> =
            keys.iter().map(|k| build.hash_one(k)).collect();
        assert_eq!(hashes.len(), keys.len());
    }
}
