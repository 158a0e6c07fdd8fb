//! The tunnel against boringtun and against itself.

use super::*;
use crate::noise::handshake::tests::keys;
use crate::noise::handshake::Responder;
use crate::noise::index::Table;
use crate::noise::session::OVERHEAD;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};

fn written(r: TunnResult) -> Vec<u8> {
    match r {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        _ => panic!("nothing written"),
    }
}

/// Leases from a table of its own.
fn leases() -> (Arc<Table<()>>, Arc<dyn Allocate>) {
    let table = Arc::new(Table::default());
    let a = table.allocator(std::sync::Weak::new());
    (table, a)
}

/// `t`'s side of opening an initiation from its peer (`t` holds the
/// precomputed DH).
fn opened(t: &Tunnel, secret: &StaticSecret, msg: &[u8]) -> Opened {
    let public = PublicKey::from(secret);
    Responder::new(&public)
        .open(secret, msg)
        .expect("static opens")
        .finish(t.static_static().unwrap())
        .expect("timestamp opens")
}

pub(super) fn packet(n: u8) -> Vec<u8> {
    // An IPv4 header boringtun will accept, 48 bytes in all.
    let mut p = vec![0u8; 48];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&48u16.to_be_bytes());
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    p[20] = n;
    p
}

/// We initiate, boringtun answers; data both ways, a replay refused.
#[test]
fn initiator_with_boringtun() {
    let (ours, our_pub) = keys();
    let (theirs, their_pub) = keys();
    let psk = [9u8; 32];
    let mut t = Tunnel::new(ours, their_pub, Some(psk), leases().1);
    let mut b = Tunn::new(theirs, our_pub, Some(psk), None, 77, None);
    let now = Instant::now();
    let mut buf = vec![0u8; 2048];
    assert_eq!(t.encapsulate(&packet(1), &mut buf, now), None, "staged");
    let n = t.initiation(&mut buf, now, SystemTime::now()).unwrap();
    let mut out = vec![0u8; 2048];
    let resp = written(b.decapsulate(None, &buf[..n], &mut out));
    assert_eq!(resp.len(), RESPONSE_LEN);
    assert!(t.consume_response(&resp, now));
    assert!(!t.consume_response(&resp, now), "answered once");
    // The staged packet goes first, on the new session.
    let p = t.take_staged().unwrap();
    let n = t.encapsulate(&p, &mut buf, now).unwrap();
    assert_eq!(n, 48 + OVERHEAD);
    match b.decapsulate(None, &buf[..n], &mut out) {
        TunnResult::WriteToTunnelV4(got, _) => assert_eq!(got, &packet(1)[..]),
        _ => panic!("boringtun did not decrypt"),
    }
    // And back.
    let msg = written(b.encapsulate(&packet(2), &mut out));
    let local = u32::from_le_bytes(msg[4..8].try_into().unwrap());
    let s = t.session_for(local, now).unwrap().clone();
    assert_eq!(s.open_copy(&msg), Some(packet(2)));
    assert_eq!(s.open_copy(&msg), None);
    assert!(!t.confirm(&s), "an initiator's session needs no confirming");
}

/// boringtun initiates, we answer; the session is ours to send with
/// only after its first data message.
#[test]
fn responder_with_boringtun() {
    let (ours, our_pub) = keys();
    let (theirs, their_pub) = keys();
    let mut t = Tunnel::new(ours.clone(), their_pub, None, leases().1);
    let mut b = Tunn::new(theirs, our_pub, None, None, 5, None);
    let now = Instant::now();
    let mut out = vec![0u8; 2048];
    let init = written(b.format_handshake_initiation(&mut out, false));
    let o = opened(&t, &ours, &init);
    assert_eq!(o.peer_static, *their_pub.as_bytes());
    let mut buf = vec![0u8; 2048];
    let (n, local) = t.respond(&o, &mut buf, now).unwrap();
    assert!(t.sending(now).is_none());
    // boringtun answers the response with a keepalive.
    let ka = written(b.decapsulate(None, &buf[..n], &mut out));
    assert_eq!(ka.len(), OVERHEAD);
    assert_eq!(u32::from_le_bytes(ka[4..8].try_into().unwrap()), local);
    let s = t.session_for(local, now).unwrap().clone();
    assert_eq!(s.open_copy(&ka), Some(vec![]));
    assert!(t.confirm(&s));
    let n = t.encapsulate(&packet(3), &mut buf, now).unwrap();
    match b.decapsulate(None, &buf[..n], &mut out) {
        TunnResult::WriteToTunnelV4(got, _) => assert_eq!(got, &packet(3)[..]),
        _ => panic!("boringtun did not decrypt"),
    }
    t.drop_sessions();
    assert!(t.sending(now).is_none());
    assert!(t.session_for(local, now).is_none());
}

/// Our initiation to a loaded boringtun peer draws a cookie reply;
/// the next initiation carries MAC2 and is answered.
#[test]
fn cookie_reply_then_mac2() {
    let (ours, our_pub) = keys();
    let (theirs, their_pub) = keys();
    let limiter = Arc::new(RateLimiter::new(&their_pub, 0));
    let mut b = Tunn::new(theirs, our_pub, None, None, 5, Some(limiter.clone()));
    let mut t = Tunnel::new(ours, their_pub, None, leases().1);
    let now = Instant::now();
    let mut buf = vec![0u8; 2048];
    let mut out = vec![0u8; 2048];
    let from = Some("192.0.2.1".parse().unwrap());
    let n = t.initiation(&mut buf, now, SystemTime::now()).unwrap();
    let _ = limiter.verify_packet(from, &buf[..n], &mut out);
    let cookie = match limiter.verify_packet(from, &buf[..n], &mut out) {
        Err(TunnResult::WriteToNetwork(c)) => c.to_vec(),
        _ => panic!("no cookie reply"),
    };
    assert!(t.consume_cookie(&cookie, now));
    let mut wrong = cookie.clone();
    wrong[40] ^= 1;
    assert!(!t.consume_cookie(&wrong, now));
    let n = t.initiation(&mut buf, now, SystemTime::now()).unwrap();
    assert_ne!(buf[132..148], [0; 16], "MAC2 set");
    let resp = written(b.decapsulate(from, &buf[..n], &mut out));
    assert!(t.consume_response(&resp, now));
}

/// Both sides initiate at once: each answers the other's initiation
/// and gets the answer to its own. Whichever session each side ends
/// up sending with, the other can open it.
#[test]
fn crossed_handshakes_keep_both_sessions() {
    let (a_s, a_p) = keys();
    let (b_s, b_p) = keys();
    let mut a = Tunnel::new(a_s.clone(), b_p, None, leases().1);
    let mut b = Tunnel::new(b_s.clone(), a_p, None, leases().1);
    let now = Instant::now();
    let (mut ia, mut ib) = (vec![0u8; 256], vec![0u8; 256]);
    let na = a.initiation(&mut ia, now, SystemTime::now()).unwrap();
    let nb = b.initiation(&mut ib, now, SystemTime::now()).unwrap();
    let (mut ra, mut rb) = (vec![0u8; 256], vec![0u8; 256]);
    let oa = opened(&a, &a_s, &ib[..nb]);
    let (nra, _) = a.respond(&oa, &mut ra, now).unwrap();
    let ob = opened(&b, &b_s, &ia[..na]);
    let (nrb, _) = b.respond(&ob, &mut rb, now).unwrap();
    assert!(a.consume_response(&rb[..nrb], now));
    assert!(b.consume_response(&ra[..nra], now));
    let mut m = vec![0u8; 256];
    let n = a.encapsulate(&packet(5), &mut m, now).unwrap();
    let idx = u32::from_le_bytes(m[4..8].try_into().unwrap());
    let s = b
        .session_for(idx, now)
        .expect("b can open a's session")
        .clone();
    assert_eq!(s.open_copy(&m[..n]), Some(packet(5)));
    let n = b.encapsulate(&packet(6), &mut m, now).unwrap();
    let idx = u32::from_le_bytes(m[4..8].try_into().unwrap());
    let s = a
        .session_for(idx, now)
        .expect("a can open b's session")
        .clone();
    assert_eq!(s.open_copy(&m[..n]), Some(packet(6)));
}

/// Two tunnels of ours talk to each other.
#[test]
fn ours_to_ours() {
    let (a_s, a_p) = keys();
    let (b_s, b_p) = keys();
    let mut a = Tunnel::new(a_s, b_p, None, leases().1);
    let mut b = Tunnel::new(b_s.clone(), a_p, None, leases().1);
    let now = Instant::now();
    let mut m = vec![0u8; 2048];
    let n = a.initiation(&mut m, now, SystemTime::now()).unwrap();
    let o = opened(&b, &b_s, &m[..n]);
    let mut r = vec![0u8; 2048];
    let (rn, local) = b.respond(&o, &mut r, now).unwrap();
    assert!(a.consume_response(&r[..rn], now));
    let n = a.encapsulate(&packet(4), &mut m, now).unwrap();
    let s = b.session_for(local, now).unwrap().clone();
    assert_eq!(s.open_copy(&m[..n]), Some(packet(4)));
    assert!(b.confirm(&s));
    assert!(b.encapsulate(&[], &mut m, now).is_some());
}

/// Each session stops sending and receiving 180 s after its own
/// creation, whatever came after it; `drop_expired` forgets it then
/// and says when the next one is due.
#[test]
fn every_session_expires_on_its_own() {
    let (a_s, a_p) = keys();
    let (b_s, b_p) = keys();
    let (table, la) = leases();
    let mut a = Tunnel::new(a_s, b_p, None, la);
    let mut b = Tunnel::new(b_s.clone(), a_p, None, leases().1);
    let t0 = Instant::now();
    let mut m = vec![0u8; 2048];
    let mut r = vec![0u8; 2048];
    // A first session, then a second one 100 s later.
    let n = a.initiation(&mut m, t0, SystemTime::now()).unwrap();
    let (rn, _) = b.respond(&opened(&b, &b_s, &m[..n]), &mut r, t0).unwrap();
    assert!(a.consume_response(&r[..rn], t0));
    let first = a.sending(t0).unwrap().local;
    let t1 = t0 + Duration::from_secs(100);
    let n = a.initiation(&mut m, t1, SystemTime::now()).unwrap();
    let (rn, _) = b.respond(&opened(&b, &b_s, &m[..n]), &mut r, t1).unwrap();
    assert!(a.consume_response(&r[..rn], t1));
    let second = a.sending(t1).unwrap().local;
    assert_ne!(first, second);
    assert_eq!(table.len(), 2, "both live");
    let end = t0 + REJECT_AFTER_TIME;
    assert!(a
        .session_for(first, end - Duration::from_millis(1))
        .is_some());
    assert!(
        a.session_for(first, end).is_none(),
        "the previous one, at 180 s"
    );
    assert_eq!(a.drop_expired(end), Some(t1 + REJECT_AFTER_TIME));
    assert_eq!(table.len(), 1, "its index given back");
    let end = t1 + REJECT_AFTER_TIME;
    assert!(a.sending(end).is_none(), "the current one, at 180 s");
    assert_eq!(a.encapsulate(&packet(1), &mut m, end), None, "staged");
    assert!(a.session_for(second, end).is_none());
    assert_eq!(a.drop_expired(end), None);
    assert!(table.is_empty());
}

/// Answering an initiation drops the previous session, as Linux
/// (noise.c, add_new_keypair) and wireguard-go do: the response's
/// session waits as `next`, the current one stays, and a late packet
/// on the one before is no longer opened.
#[test]
fn responding_drops_the_previous_session() {
    let (a_s, a_p) = keys();
    let (b_s, b_p) = keys();
    let (table, lb) = leases();
    let mut a = Tunnel::new(a_s, b_p, None, leases().1);
    let mut b = Tunnel::new(b_s.clone(), a_p, None, lb);
    let now = Instant::now();
    let (mut m, mut r) = (vec![0u8; 2048], vec![0u8; 2048]);
    let mut locals = Vec::new();
    for _ in 0..3 {
        let n = a.initiation(&mut m, now, SystemTime::now()).unwrap();
        let (rn, local) = b.respond(&opened(&b, &b_s, &m[..n]), &mut r, now).unwrap();
        assert!(a.consume_response(&r[..rn], now));
        locals.push(local);
        if locals.len() < 3 {
            // a's first packet confirms it.
            let n = a.encapsulate(&packet(1), &mut m, now).unwrap();
            let s = b.session_for(local, now).unwrap().clone();
            assert_eq!(s.open_copy(&m[..n]), Some(packet(1)));
            assert!(b.confirm(&s));
        }
    }
    // b: current = the second, next = the third; the first is gone.
    assert!(b.session_for(locals[0], now).is_none(), "previous dropped");
    assert!(b.session_for(locals[1], now).is_some(), "current kept");
    assert!(b.session_for(locals[2], now).is_some(), "next waits");
    assert_eq!(table.len(), 2, "the previous one's index given back");
}

/// Forgetting the keys (a suspend) leaves no session to send or
/// receive with and no initiation to answer; the indices go back.
#[test]
fn forgetting_keys_drops_every_session_and_the_handshake() {
    let (a_s, a_p) = keys();
    let (b_s, b_p) = keys();
    let (table, la) = leases();
    let mut a = Tunnel::new(a_s, b_p, None, la);
    let mut b = Tunnel::new(b_s.clone(), a_p, None, leases().1);
    let now = Instant::now();
    let (mut m, mut r) = (vec![0u8; 2048], vec![0u8; 2048]);
    let n = a.initiation(&mut m, now, SystemTime::now()).unwrap();
    let (rn, _) = b.respond(&opened(&b, &b_s, &m[..n]), &mut r, now).unwrap();
    assert!(a.consume_response(&r[..rn], now));
    let local = a.sending(now).unwrap().local;
    a.initiation(&mut m, now, SystemTime::now()).unwrap();
    assert_eq!(table.len(), 2);
    a.stage(&packet(1));
    a.forget_keys();
    assert!(!a.has_keys());
    assert!(a.sending(now).is_none() && a.session_for(local, now).is_none());
    assert!(!a.consume_response(&r[..rn], now));
    assert!(table.is_empty(), "indices given back");
    assert!(a.has_staged());
}

/// Every handshake takes a fresh random index; a replaced initiation
/// gives its index back.
#[test]
fn indices_are_fresh_per_handshake() {
    let (a_s, _) = keys();
    let (_, b_p) = keys();
    let (table, la) = leases();
    let mut a = Tunnel::new(a_s, b_p, None, la);
    let now = Instant::now();
    let mut m = vec![0u8; 256];
    let mut seen = Vec::new();
    for _ in 0..20 {
        a.initiation(&mut m, now, SystemTime::now()).unwrap();
        seen.push(u32::from_le_bytes(m[4..8].try_into().unwrap()));
        assert_eq!(table.len(), 1);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 20);
    assert!(a.owns(*seen.last().unwrap()) || seen.iter().any(|i| a.owns(*i)));
}
