//! BLAKE2s (RFC 7693), plain and keyed, our own so that every state that
//! ever held a key is zeroized when it goes: the handshake's HMAC, MAC1
//! and MAC2 are built on it. Only the handshake uses it; it need not be
//! fast.

use zeroize::Zeroize;

const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

const SIGMA: [[usize; 16]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

pub const BLOCK: usize = 64;

/// A BLAKE2s computation in progress. Zeroized on drop.
pub struct Blake2s {
    h: [u32; 8],
    /// Bytes compressed so far.
    t: u64,
    buf: [u8; BLOCK],
    used: usize,
    out_len: usize,
}

impl Drop for Blake2s {
    fn drop(&mut self) {
        self.h.zeroize();
        self.buf.zeroize();
    }
}

fn g(v: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize, x: u32, y: u32) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(12);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
    v[d] = (v[d] ^ v[a]).rotate_right(8);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(7);
}

impl Blake2s {
    /// Output of `out_len` bytes (1..=32), keyed when `key` is not empty
    /// (at most 32 bytes).
    pub fn new(out_len: usize, key: &[u8]) -> Blake2s {
        debug_assert!((1..=32).contains(&out_len) && key.len() <= 32);
        let mut h = IV;
        h[0] ^= 0x0101_0000 ^ ((key.len() as u32) << 8) ^ out_len as u32;
        let mut s = Blake2s {
            h,
            t: 0,
            buf: [0; BLOCK],
            used: 0,
            out_len,
        };
        if !key.is_empty() {
            s.buf[..key.len()].copy_from_slice(key);
            s.used = BLOCK;
        }
        s
    }

    fn compress(&mut self, last: bool) {
        let mut m = [0u32; 16];
        for (w, c) in m.iter_mut().zip(self.buf.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        let mut v = [0u32; 16];
        v[..8].copy_from_slice(&self.h);
        v[8..].copy_from_slice(&IV);
        v[12] ^= self.t as u32;
        v[13] ^= (self.t >> 32) as u32;
        if last {
            v[14] = !v[14];
        }
        for s in &SIGMA {
            g(&mut v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
            g(&mut v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
            g(&mut v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
            g(&mut v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
            g(&mut v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
            g(&mut v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
            g(&mut v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
            g(&mut v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
        }
        for i in 0..8 {
            self.h[i] ^= v[i] ^ v[i + 8];
        }
        m.zeroize();
        v.zeroize();
    }

    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            // The last block is compressed only in `finalize`, with the
            // final flag: a full buffer waits until more data comes.
            if self.used == BLOCK {
                self.t += BLOCK as u64;
                self.compress(false);
                self.used = 0;
            }
            let n = (BLOCK - self.used).min(data.len());
            self.buf[self.used..self.used + n].copy_from_slice(&data[..n]);
            self.used += n;
            data = &data[n..];
        }
    }

    /// The digest, into `out` (`out_len` bytes of it).
    pub fn finalize_into(mut self, out: &mut [u8]) {
        self.t += self.used as u64;
        self.buf[self.used..].fill(0);
        self.compress(true);
        let mut bytes = [0u8; 32];
        for (c, w) in bytes.chunks_exact_mut(4).zip(self.h.iter()) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        let n = self.out_len.min(out.len());
        out[..n].copy_from_slice(&bytes[..n]);
        bytes.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blake2::digest::consts::U16;
    use blake2::digest::{FixedOutput, KeyInit, Mac};
    use blake2::{Blake2s256, Blake2sMac, Digest};

    fn ours(out_len: usize, key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut s = Blake2s::new(out_len, key);
        s.update(data);
        let mut out = vec![0u8; out_len];
        s.finalize_into(&mut out);
        out
    }

    /// RFC 7693 Appendix B: BLAKE2s-256("abc").
    #[test]
    fn rfc_7693_vector() {
        let want = "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982";
        let got: String = ours(32, &[], b"abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, want);
    }

    /// The same digests as the blake2 crate, for every length around the
    /// block boundaries, plain and keyed, fed whole and in pieces.
    #[test]
    fn agrees_with_the_blake2_crate() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 31, 63, 64, 65, 127, 128, 129, 200, 300] {
            let d = &data[..len];
            let want: [u8; 32] = Blake2s256::digest(d).into();
            assert_eq!(ours(32, &[], d), want, "hash {len}");
            let key = [9u8; 32];
            let mut m = <Blake2sMac<U16> as KeyInit>::new_from_slice(&key).unwrap();
            m.update(d);
            let want: [u8; 16] = m.finalize_fixed().into();
            assert_eq!(ours(16, &key, d), want, "mac {len}");
            let mut s = Blake2s::new(16, &key[..16]);
            for piece in d.chunks(13) {
                s.update(piece);
            }
            let mut out = [0u8; 16];
            s.finalize_into(&mut out);
            let mut m = <Blake2sMac<U16> as KeyInit>::new_from_slice(&key[..16]).unwrap();
            m.update(d);
            assert_eq!(out, <[u8; 16]>::from(m.finalize_fixed()), "pieces {len}");
        }
    }
}
