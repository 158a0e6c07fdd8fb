//! What went over the underlay: tcpdump writes a pcap file in a
//! namespace, and the WireGuard messages in it are read back with their
//! times, for tests that check timers on the wire.

use super::{unique, wait_until, Ns};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Capture {
    file: PathBuf,
    child: Option<Child>,
}

/// One WireGuard message seen on the wire.
#[derive(Clone, Debug)]
pub struct Msg {
    /// Seconds since the Unix epoch (compare with [`now`]).
    pub t: f64,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Message type (1 initiation, 2 response, 3 cookie, 4 data).
    pub kind: u8,
    /// UDP payload length (32 for a keepalive).
    pub len: usize,
    /// The index at offset 4: the sender's for an initiation or a
    /// response, the receiver's for a cookie reply or data.
    pub index: u32,
}

impl Msg {
    pub fn is_keepalive(&self) -> bool {
        self.kind == 4 && self.len == 32
    }
    pub fn is_data(&self) -> bool {
        self.kind == 4 && self.len > 32
    }
}

/// Wall-clock seconds, on the capture's scale.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

impl Capture {
    /// Capture UDP on `dev` in `ns`; returns once tcpdump is listening.
    pub fn start(ns: &Ns, dev: &str) -> Capture {
        let file = std::env::temp_dir().join(format!("wgcap-{}.pcap", unique()));
        let err = std::env::temp_dir().join(format!("wgcap-{}.err", unique()));
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name, "tcpdump", "-i", dev, "-U", "-n"])
            .args(["-s", "96", "-w"])
            .arg(&file)
            .arg("udp")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).expect("tcpdump stderr file"))
            .spawn()
            .expect("start tcpdump");
        let listening = wait_until(10, || {
            std::fs::read_to_string(&err).is_ok_and(|s| s.contains("listening on"))
        });
        let _ = std::fs::remove_file(&err);
        let c = Capture {
            file,
            child: Some(child),
        };
        assert!(listening, "tcpdump did not start");
        c
    }

    /// The WireGuard messages captured so far, in order.
    pub fn messages(&self) -> Vec<Msg> {
        let Ok(b) = std::fs::read(&self.file) else {
            return Vec::new();
        };
        parse(&b)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            super::end_child(&mut c);
        }
        let _ = std::fs::remove_file(&self.file);
    }
}

fn u16be(b: &[u8], o: usize) -> usize {
    u16::from_be_bytes([b[o], b[o + 1]]) as usize
}

fn u32le(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// pcap (microsecond, little-endian, Ethernet) → WireGuard messages.
fn parse(b: &[u8]) -> Vec<Msg> {
    let mut out = Vec::new();
    if b.len() < 24 || u32le(b, 0) != 0xa1b2_c3d4 {
        return out;
    }
    let mut o = 24;
    while o + 16 <= b.len() {
        let (sec, usec, incl) = (u32le(b, o), u32le(b, o + 4), u32le(b, o + 8) as usize);
        let rec = &b[o + 16..(o + 16 + incl).min(b.len())];
        o += 16 + incl;
        let t = sec as f64 + usec as f64 / 1e6;
        if rec.len() < 14 {
            continue;
        }
        let (ip, udp) = match u16be(rec, 12) {
            0x0800 if rec.len() >= 14 + 20 && rec[14 + 9] == 17 => {
                let ihl = (rec[14] & 0xf) as usize * 4;
                let s: [u8; 4] = rec[26..30].try_into().unwrap();
                let d: [u8; 4] = rec[30..34].try_into().unwrap();
                ((IpAddr::from(s), IpAddr::from(d)), 14 + ihl)
            }
            0x86dd if rec.len() >= 14 + 40 && rec[14 + 6] == 17 => {
                let s: [u8; 16] = rec[22..38].try_into().unwrap();
                let d: [u8; 16] = rec[38..54].try_into().unwrap();
                ((IpAddr::from(s), IpAddr::from(d)), 14 + 40)
            }
            _ => continue,
        };
        if rec.len() < udp + 12 {
            continue;
        }
        let len = u16be(rec, udp + 4).saturating_sub(8);
        let p = &rec[udp + 8..];
        if !(1..=4).contains(&p[0]) || p[1..4] != [0, 0, 0] {
            continue;
        }
        out.push(Msg {
            t,
            src: ip.0,
            dst: ip.1,
            kind: p[0],
            len,
            index: u32le(p, 4),
        });
    }
    out
}
