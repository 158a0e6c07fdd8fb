//! `--libxo json`: parsed with python3's json module and compared field
//! by field with the text status and with `wg show dump`.

mod common;

use common::*;
use std::process::{Command, Stdio};

/// Flatten the JSON document into `key=value` lines with python3.
fn flatten(json: &str) -> Vec<String> {
    let script = r#"
import json, sys
d = json.load(sys.stdin)
assert d["__version"] == "1"
for i in d["interface"]:
    print("name=%s" % i["name"])
    print("flags=%d %s" % (i["flags"], ",".join(i["flags_names"])))
    print("mtu=%d metric=%d" % (i["mtu"], i["metric"]))
    for a in i.get("inet", []):
        print("inet=%s %s %s" % (a["address"], a.get("destination", "-"), a["netmask"]))
    for a in i.get("inet6", []):
        print("inet6=%s %d" % (a["address"], a["prefixlen"]))
    for k in ("description", "wgport", "wgcookie", "wgkey", "wgpubkey"):
        if k in i:
            print("%s=%s" % (k, i[k]))
    for p in i["wgpeers"]:
        e = p.get("wgendpoint")
        print("peer=%s id=%d psk=%s pka=%s ep=%s tx=%d rx=%d hs=%s age=%s aip=%s" % (
            p["wgpeer"], p["id"], p.get("wgpsk", "-"), p.get("wgpka", 0),
            "%s:%d" % (e["address"], e["port"]) if e else "-",
            p["tx"], p["rx"], int(p["last_handshake"]) if "last_handshake" in p else "-",
            p.get("last_handshake_age", "-"), ",".join(p["wgaip"])))
    print("groups=%s" % " ".join(i["groups"]))
"#;
    let mut c = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    c.stdin.take().unwrap().write_all(json.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "python3 json: {}\n{json}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect()
}

fn has(lines: &[String], want: &str) {
    assert!(
        lines.iter().any(|l| l == want),
        "missing `{want}` in:\n{}",
        lines.join("\n")
    );
}

#[test]
fn json_status_matches_text_and_wg_show() {
    require_root();
    let t = Tunnel::new(false);
    let (d, i) = (&t.da, &t.ia);
    let pb = pubkey(&t.db, &t.ib);
    d.ok(&format!(
        "{i} description \"uplink \\\"one\\\"\" link1 group egress wgpeer {pb} wgpka 25 wgpsk {} wgdescr far",
        genkey()
    ));
    // wgpka sends at once (an initiation, unanswered: b has no PSK);
    // the next goes 5 s later, so the counters hold still for a while.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let text = d.ok(i);
    let lines = flatten(&d.ok(&format!("--libxo json {i}")));
    let pretty = d.ok(&format!("--libxo=json,pretty {i}"));
    assert!(pretty.contains("\n  \"interface\": ["), "{pretty}");
    assert_eq!(flatten(&pretty), lines);

    // Interface fields as in the text status.
    has(&lines, &format!("name={i}"));
    let flags_word = text.lines().next().unwrap();
    let hex = flags_word
        .split("flags=")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let names = flags_word
        .split('<')
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap();
    has(
        &lines,
        &format!("flags={} {names}", u32::from_str_radix(hex, 16).unwrap()),
    );
    has(&lines, "mtu=1420 metric=0");
    has(&lines, "description=uplink \"one\"");
    has(&lines, &format!("inet={} {} 0xffffffff", t.in_a4, t.in_b4));
    has(&lines, &format!("inet6={} 64", t.in_a6));
    has(&lines, &format!("wgport={}", t.port_a));
    has(&lines, &format!("wgpubkey={}", pubkey(d, i)));
    has(&lines, "groups=wg egress");
    assert!(
        !lines.iter().any(|l| l.starts_with("wgkey=")),
        "no secrets without -k"
    );

    // Peer fields against wg(8)'s dump over the UAPI socket.
    let dump = t.u.a.run(&format!("wg show {i} dump"));
    let peer: Vec<&str> = dump.lines().nth(1).unwrap().split('\t').collect();
    let (hs, rx, tx, pka) = (peer[4], peer[5], peer[6], peer[7]);
    let p = lines.iter().find(|l| l.starts_with("peer=")).unwrap();
    assert!(
        p.starts_with(&format!(
            "peer={pb} id=1 psk=(present) pka={pka} ep={}:{} ",
            t.u.b4, t.port_b
        )),
        "{p}\n{dump}"
    );
    assert!(
        p.contains(&format!(" aip={}/128,{}/32", t.in_b6, t.in_b4)),
        "{p}"
    );
    // Counters may move between the two reads only with traffic: none here.
    assert!(p.contains(&format!(" tx={tx} rx={rx} ")), "{p}\n{dump}");
    assert!(p.contains(" hs=- age=- ") && hs == "0", "{p}\n{dump}");
    assert!(text.contains("\t\twgdescr: far\n"));

    // After a handshake: the time and age are there, as in wg show.
    d.ok(&format!("{i} wgpeer {pb} -wgpsk"));
    assert!(t.u.a.ping(&t.in_b4, 1), "ping across");
    let lines = flatten(&d.ok(&format!("--libxo json {i}")));
    let dump = t.u.a.run(&format!("wg show {i} dump"));
    let hs: u64 = dump
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .nth(4)
        .unwrap()
        .parse()
        .unwrap();
    let p = lines.iter().find(|l| l.starts_with("peer=")).unwrap();
    assert!(p.contains(&format!(" hs={hs} ")), "{p}\n{dump}");
    assert!(p.contains(" age=0 ") || p.contains(" age=1 "), "{p}");

    // -a, and secrets with -k for root only.
    let all = flatten(&d.ok("--libxo json -a -k"));
    has(&all, &format!("name={i}"));
    assert!(all.iter().any(|l| l.starts_with("wgkey=")));
    let o = d.ifc_as_nobody(&format!("--libxo json -k {i}"));
    let nobody = flatten(&String::from_utf8_lossy(&o.stdout));
    assert!(!nobody.iter().any(|l| l.starts_with("wgkey=")));

    // A format we do not have.
    d.fails(
        &format!("--libxo xml {i}"),
        "ifconfig-wg: --libxo: unsupported format xml (json, json,pretty or text)",
    );
}
