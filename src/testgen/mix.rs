//! A small deterministic pseudo-random source (SplitMix64): the same seed gives the
//! same numbers on every platform and every run, so a generated repository is the
//! same bytes wherever it is generated.

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct Mix(u64);

/// The generator's fixed seed.
pub const SEED: u64 = 0x706f_6c63_2d67_656e;

impl Mix {
    /// The stream for one item of the repository (a policy, a network set): the
    /// item's number mixed into the fixed seed, so an item does not depend on the
    /// items generated before it.
    pub fn for_item(kind: u64, index: usize) -> Self {
        let mut m = Mix(SEED ^ kind.wrapping_mul(0xa076_1d64_78bd_642f));
        m.0 ^= m.next_u64() ^ (index as u64).wrapping_mul(0xe703_7ed1_a0b4_28db);
        m
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }
}

#[cfg(test)]
mod tests {
    use super::Mix;

    #[test]
    fn a_stream_is_a_function_of_its_item() {
        let a: Vec<u64> = (0..4).map(|_| Mix::for_item(1, 7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Mix::for_item(1, 7).next_u64(),
            Mix::for_item(1, 8).next_u64()
        );
        assert_ne!(
            Mix::for_item(1, 7).next_u64(),
            Mix::for_item(2, 7).next_u64()
        );
        let mut m = Mix::for_item(3, 3);
        assert!((0..1000).all(|_| m.between(1, 3) <= 3));
    }
}
