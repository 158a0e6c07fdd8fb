//! Framing: `key=value` lines, a message ends with an empty line.
//!
//! Reading is bounded: a line longer than `max_line` or a message longer
//! than `max_total` is refused, so a peer cannot make the daemon buffer
//! without limit.

use crate::wipe;
use std::io::{self, BufRead, Write};
use zeroize::{Zeroize, Zeroizing};

/// Longest line the daemon accepts from a client.
pub const MAX_LINE: usize = 4096;
/// Largest request the daemon accepts from root.
pub const MAX_REQUEST: usize = 1 << 20;
/// Largest request the daemon accepts from anyone else: a status or
/// list request is a few short lines.
pub const MAX_UNPRIVILEGED_REQUEST: usize = 1024;
/// Largest response the client accepts.
pub const MAX_RESPONSE: usize = 64 << 20;

#[derive(Debug)]
pub enum WireError {
    Io(io::Error),
    LineTooLong,
    TooLarge,
    /// A line without `=`, or not UTF-8, or a bad escape.
    Malformed,
    /// The connection ended in the middle of a message.
    Truncated,
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

pub type Message = Vec<(String, String)>;

/// Escape a value so it fits on one line: `\` and newline.
pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

pub fn unescape(v: &str) -> Option<String> {
    // Exactly as long as `v` or shorter: never reallocated.
    let mut s = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('\\') => s.push('\\'),
                Some('n') => s.push('\n'),
                _ => {
                    // What was unescaped so far may be part of a key.
                    s.zeroize();
                    return None;
                }
            }
        } else {
            s.push(c);
        }
    }
    Some(s)
}

/// The length of `v` escaped.
fn escaped_len(v: &str) -> usize {
    v.len() + v.bytes().filter(|&b| b == b'\\' || b == b'\n').count()
}

/// Write one message. It is built whole in a buffer of its exact size,
/// wiped once written: a status reply for root with `-k` holds keys, and
/// a growing buffer would leave copies of them in freed memory.
pub fn write_message<W: Write>(w: &mut W, msg: &[(String, String)]) -> io::Result<()> {
    let size = 1 + msg
        .iter()
        .map(|(k, v)| k.len() + escaped_len(v) + 2)
        .sum::<usize>();
    let mut buf = Zeroizing::new(Vec::with_capacity(size));
    for (k, v) in msg {
        buf.extend_from_slice(k.as_bytes());
        buf.push(b'=');
        for &b in v.as_bytes() {
            match b {
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b => buf.push(b),
            }
        }
        buf.push(b'\n');
    }
    buf.push(b'\n');
    debug_assert_eq!(buf.len(), size);
    w.write_all(&buf)?;
    w.flush()
}

/// Read one line (without the `\n`) of at most `max_line` bytes.
/// `Ok(None)` at end of input before any byte. The line may hold a key:
/// it grows without leaving copies behind, and the caller wipes it.
pub fn read_line<R: BufRead>(r: &mut R, max_line: usize) -> Result<Option<Vec<u8>>, WireError> {
    let mut line = Vec::new();
    let result = read_line_into(r, max_line, &mut line);
    match result {
        Ok(true) => Ok(Some(line)),
        Ok(false) => Ok(None),
        Err(e) => {
            line.zeroize();
            Err(e)
        }
    }
}

/// `read_line`'s loop: `Ok(false)` at end of input before any byte.
fn read_line_into<R: BufRead>(
    r: &mut R,
    max_line: usize,
    line: &mut Vec<u8>,
) -> Result<bool, WireError> {
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if buf.is_empty() {
            return if line.is_empty() {
                Ok(false)
            } else {
                Err(WireError::Truncated)
            };
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                if line.len() + i > max_line {
                    return Err(WireError::LineTooLong);
                }
                wipe::extend(line, &buf[..i]);
                r.consume(i + 1);
                return Ok(true);
            }
            None => {
                let n = buf.len();
                if line.len() + n > max_line {
                    return Err(WireError::LineTooLong);
                }
                wipe::extend(line, buf);
                r.consume(n);
            }
        }
    }
}

/// Read one message. `Ok(None)` when the input ends cleanly between
/// messages.
///
/// Until the closing empty line arrives, the message is held as the raw
/// bytes received (at most `max_total`), never as parsed pairs, which
/// cost many times more per short line; it is parsed only once complete.
pub fn read_message<R: BufRead>(
    r: &mut R,
    max_line: usize,
    max_total: usize,
) -> Result<Option<Message>, WireError> {
    let mut raw: Vec<u8> = Vec::new();
    let result = loop {
        let mut line = match read_line(r, max_line) {
            Ok(Some(l)) => l,
            Ok(None) if raw.is_empty() => break Ok(None),
            Ok(None) => break Err(WireError::Truncated),
            Err(e) => break Err(e),
        };
        if line.is_empty() {
            break parse(&raw).map(Some);
        }
        if raw.len() + line.len() + 1 > max_total {
            break Err(WireError::TooLarge);
        }
        wipe::extend(&mut raw, &line);
        wipe::extend(&mut raw, b"\n");
        line.zeroize();
    };
    // Requests carry keys.
    raw.zeroize();
    result
}

fn parse(raw: &[u8]) -> Result<Message, WireError> {
    let text = std::str::from_utf8(raw).map_err(|_| WireError::Malformed)?;
    // Sized up front: the pairs are never moved, and what was parsed
    // before a bad line (keys too) is wiped.
    let mut msg: Message = Vec::with_capacity(text.lines().count());
    for line in text.lines() {
        let pair = line
            .split_once('=')
            .and_then(|(k, v)| Some((k.to_string(), unescape(v)?)));
        match pair {
            Some(p) => msg.push(p),
            None => {
                for (_, v) in msg.iter_mut() {
                    v.zeroize();
                }
                return Err(WireError::Malformed);
            }
        }
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_escapes() {
        let msg = vec![
            ("a".to_string(), "1".to_string()),
            ("descr".to_string(), "x=y\\z\nnext".to_string()),
            ("empty".to_string(), String::new()),
        ];
        let mut buf = Vec::new();
        write_message(&mut buf, &msg).unwrap();
        write_message(&mut buf, &msg).unwrap();
        let mut r = &buf[..];
        assert_eq!(read_message(&mut r, 100, 1000).unwrap().unwrap(), msg);
        assert_eq!(read_message(&mut r, 100, 1000).unwrap().unwrap(), msg);
        assert!(read_message(&mut r, 100, 1000).unwrap().is_none());
    }

    #[test]
    fn bounds_and_errors() {
        let long = format!("k={}\n\n", "v".repeat(200));
        assert!(matches!(
            read_message(&mut long.as_bytes(), 100, 10000),
            Err(WireError::LineTooLong)
        ));
        let many = "k=v\n".repeat(100) + "\n";
        assert!(matches!(
            read_message(&mut many.as_bytes(), 100, 50),
            Err(WireError::TooLarge)
        ));
        assert!(matches!(
            read_message(&mut &b"noequals\n\n"[..], 100, 1000),
            Err(WireError::Malformed)
        ));
        assert!(matches!(
            read_message(&mut &b"k=v\n"[..], 100, 1000),
            Err(WireError::Truncated)
        ));
        assert!(matches!(
            read_message(&mut &b"k=bad\\q\n\n"[..], 100, 1000),
            Err(WireError::Malformed)
        ));
    }
}
