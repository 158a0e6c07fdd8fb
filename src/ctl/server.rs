//! Accepting control connections, with bounds on their number, their
//! idle time and the size of what they send.

use crate::ctl::handler;
use crate::registry::Registry;
use crate::sys::peercred::peer_uid;
use proto::errno;
use proto::wire::{
    read_message, write_message, WireError, MAX_LINE, MAX_REQUEST, MAX_UNPRIVILEGED_REQUEST,
};
use std::io::BufReader;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroize;

/// Concurrent connections served; more are closed at once.
const MAX_CONNECTIONS: usize = 64;
/// A client that says nothing for this long is dropped.
const IDLE: Duration = Duration::from_secs(30);

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

pub fn serve(listener: UnixListener, reg: Arc<Registry>) {
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        if ACTIVE.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            ACTIVE.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let reg = reg.clone();
        let spawned = std::thread::Builder::new()
            .name("ctl".into())
            .spawn(move || {
                connection(stream, &reg);
                ACTIVE.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            ACTIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn errno_reply(n: i32) -> Vec<(String, String)> {
    vec![("errno".to_string(), n.to_string())]
}

/// Serve requests on one connection until it closes.
fn connection(mut stream: UnixStream, reg: &Registry) {
    let root = peer_uid(&stream) == Some(0);
    let _ = stream.set_read_timeout(Some(IDLE));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    // What a pending request may hold: raw bytes only, and for anyone
    // but root only as much as a status request needs.
    let max_request = if root {
        MAX_REQUEST
    } else {
        MAX_UNPRIVILEGED_REQUEST
    };
    let mut reader = BufReader::new(read_half);
    loop {
        let reply = match read_message(&mut reader, MAX_LINE, max_request) {
            Ok(None) => return,
            Ok(Some(mut msg)) => {
                let reply = handler::handle(reg, &msg, root);
                // Requests carry keys in base64: wipe them.
                for (_, v) in msg.iter_mut() {
                    v.zeroize();
                }
                reply
            }
            // The stream cannot be resynchronised after these: answer, close.
            Err(WireError::LineTooLong) | Err(WireError::TooLarge) => {
                let _ = write_message(&mut stream, &errno_reply(errno::EMSGSIZE));
                return;
            }
            Err(WireError::Malformed) => {
                let _ = write_message(&mut stream, &errno_reply(errno::EINVAL));
                return;
            }
            Err(WireError::Io(_)) | Err(WireError::Truncated) => return,
        };
        let mut reply = reply;
        let sent = write_message(&mut stream, &reply);
        // A status reply for root with -k carries the private key.
        for (_, v) in reply.iter_mut() {
            v.zeroize();
        }
        if sent.is_err() {
            return;
        }
    }
}
