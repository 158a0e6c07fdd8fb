//! Framing: `key=value` lines, a message ends with an empty line.
//!
//! Reading is bounded: a line longer than `max_line` or a message longer
//! than `max_total` is refused, so a peer cannot make the daemon buffer
//! without limit.

use std::io::{self, BufRead, Write};
use zeroize::Zeroize;

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
    let mut s = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next()? {
                '\\' => s.push('\\'),
                'n' => s.push('\n'),
                _ => return None,
            }
        } else {
            s.push(c);
        }
    }
    Some(s)
}

pub fn write_message<W: Write>(w: &mut W, msg: &[(String, String)]) -> io::Result<()> {
    let mut buf = Vec::new();
    for (k, v) in msg {
        buf.extend_from_slice(k.as_bytes());
        buf.push(b'=');
        buf.extend_from_slice(escape(v).as_bytes());
        buf.push(b'\n');
    }
    buf.push(b'\n');
    w.write_all(&buf)?;
    w.flush()
}

/// Read one line (without the `\n`) of at most `max_line` bytes.
/// `Ok(None)` at end of input before any byte.
pub fn read_line<R: BufRead>(r: &mut R, max_line: usize) -> Result<Option<Vec<u8>>, WireError> {
    let mut line = Vec::new();
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if buf.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(WireError::Truncated)
            };
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                if line.len() + i > max_line {
                    return Err(WireError::LineTooLong);
                }
                line.extend_from_slice(&buf[..i]);
                r.consume(i + 1);
                return Ok(Some(line));
            }
            None => {
                let n = buf.len();
                if line.len() + n > max_line {
                    return Err(WireError::LineTooLong);
                }
                line.extend_from_slice(buf);
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
        raw.extend_from_slice(&line);
        raw.push(b'\n');
        line.zeroize();
    };
    // Requests carry keys.
    raw.zeroize();
    result
}

fn parse(raw: &[u8]) -> Result<Message, WireError> {
    let text = std::str::from_utf8(raw).map_err(|_| WireError::Malformed)?;
    text.lines()
        .map(|line| {
            let (k, v) = line.split_once('=').ok_or(WireError::Malformed)?;
            Ok((k.to_string(), unescape(v).ok_or(WireError::Malformed)?))
        })
        .collect()
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
