//! The receive side's sliding window of counters (RFC 6479's bitmap, as
//! wireguard-go and Linux keep it): a counter is accepted once, and only
//! if it is not more than `WINDOW` behind the newest accepted.

/// Counters at or beyond this are never accepted (2^64 - 2^13 - 1,
/// REJECT_AFTER_MESSAGES).
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);

pub const WORDS: usize = 128;
/// How far behind the newest a counter may be.
pub const WINDOW: u64 = ((WORDS - 1) * 64) as u64;

#[derive(Clone)]
pub struct Replay {
    newest: u64,
    bits: [u64; WORDS],
}

impl Default for Replay {
    fn default() -> Self {
        Replay {
            newest: 0,
            bits: [0; WORDS],
        }
    }
}

impl Replay {
    /// The newest counter accepted and the window's bitmap (a hand-over
    /// carries them).
    pub fn parts(&self) -> (u64, &[u64; WORDS]) {
        (self.newest, &self.bits)
    }

    pub fn from_parts(newest: u64, bits: [u64; WORDS]) -> Replay {
        Replay { newest, bits }
    }

    /// Whether `c` may be accepted, without recording it: a cheap test
    /// before spending a decryption on it.
    pub fn fresh(&self, c: u64) -> bool {
        // A counter ahead of the newest lands in a word `accept` clears
        // first, whatever it holds now.
        c < REJECT_AFTER_MESSAGES
            && (c > self.newest || (self.newest - c <= WINDOW && self.bits[word(c)] & bit(c) == 0))
    }

    /// Record `c`; false if it is too old or was seen.
    pub fn accept(&mut self, c: u64) -> bool {
        if c >= REJECT_AFTER_MESSAGES {
            return false;
        }
        if c > self.newest {
            // Clear the words between the old newest and this one.
            let (from, to) = (self.newest >> 6, c >> 6);
            let n = (to - from).min(WORDS as u64);
            for i in 1..=n {
                self.bits[((from + i) % WORDS as u64) as usize] = 0;
            }
            self.newest = c;
        } else if self.newest - c > WINDOW {
            return false;
        }
        let w = &mut self.bits[word(c)];
        if *w & bit(c) != 0 {
            return false;
        }
        *w |= bit(c);
        true
    }
}

fn word(c: u64) -> usize {
    ((c >> 6) % WORDS as u64) as usize
}

fn bit(c: u64) -> u64 {
    1 << (c & 63)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_each_within_the_window() {
        let mut r = Replay::default();
        assert!(r.accept(0));
        assert!(!r.accept(0));
        assert!(r.accept(2));
        assert!(r.accept(1));
        assert!(!r.accept(1));
        assert!(r.accept(10_000));
        assert!(!r.fresh(10_000 - WINDOW - 1));
        assert!(!r.accept(10_000 - WINDOW - 1));
        assert!(r.fresh(10_000 - WINDOW));
        assert!(r.accept(10_000 - WINDOW));
        assert!(!r.accept(10_000 - WINDOW));
        // A jump far ahead forgets everything older than the window.
        assert!(r.accept(1 << 40));
        assert!(r.accept((1 << 40) - 1));
        assert!(!r.accept(10_000));
        assert!(!r.accept(REJECT_AFTER_MESSAGES));
    }

    #[test]
    fn words_are_cleared_as_the_window_moves() {
        let mut r = Replay::default();
        for c in 0..50_000u64 {
            assert!(r.fresh(c), "{c}");
            assert!(r.accept(c), "{c}");
        }
        for c in (50_000 - WINDOW)..50_000 {
            assert!(!r.accept(c), "{c}");
        }
        // Out of order but inside the window: each once.
        let mut r = Replay::default();
        assert!(r.accept(5_000));
        for c in (0..5_000u64).rev() {
            assert!(r.accept(c), "{c}");
            assert!(!r.fresh(c));
        }
    }
}
