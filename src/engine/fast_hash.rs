//! A fast, deterministic hasher for the keys of ingestion (transaction ids, subscription ids):
//! SipHash cost about as much per event as reading the event. Eight bytes per step with a
//! multiply (as rustc's FxHash), then a final mix so that the low bits the hash tables use
//! depend on every byte. Not resistant to chosen collisions: a client sending colliding ids
//! only slows its own ingestion (wasm32's `RandomState` has fixed keys too).

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// `HashSet`/`HashMap` builder of [`FastHasher`].
pub type FastBuild = BuildHasherDefault<FastHasher>;

/// See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
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
        // murmur3's final mix.
        let mut hash = self.0;
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        hash ^ (hash >> 33)
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

    #[test]
    fn keys_that_differ_hash_apart() {
        let build = FastBuild::default();
        let keys = ["", "a", "a\0", "\0a", "abcdefgh", "abcdefgh\0", "abcdefgi"];
        let hashes: std::collections::HashSet<u64> =
            keys.iter().map(|k| build.hash_one(k)).collect();
        assert_eq!(hashes.len(), keys.len());
    }
}
