//! Following the kernel: links are ours, but ip(8) can touch them too.
//! wg-quick brings a link up with `ip link set up` (so we bind the
//! sockets) and takes it down with `ip link delete` (so we destroy the
//! interface, leaving the others untouched).

use crate::registry::Registry;
use crate::sys::netlink::{LinkEvent, LinkEvents};
use std::sync::Arc;

pub fn start(reg: Arc<Registry>) -> std::io::Result<()> {
    let mut events = LinkEvents::open()?;
    std::thread::Builder::new()
        .name("linkwatch".into())
        .spawn(move || {
            let mut batch = Vec::new();
            loop {
                events.next(&mut batch);
                for e in &batch {
                    match *e {
                        LinkEvent::Changed(index) => {
                            if let Some(ifc) = reg.by_index(index) {
                                if crate::sys::netlink::link_state(index).is_err() {
                                    // Already gone: the delete event follows.
                                    continue;
                                }
                                ifc.sync_link();
                            }
                        }
                        LinkEvent::Ipv6Lost(index) => {
                            if let Some(ifc) = reg.by_index(index) {
                                ifc.ipv6_lost();
                            }
                        }
                        LinkEvent::Deleted(index) => {
                            if let Some(ifc) = reg.by_index(index) {
                                crate::log::info(format!(
                                    "{}: link deleted, destroying",
                                    ifc.name()
                                ));
                                let _ = reg.destroy_this(&ifc);
                            }
                        }
                        LinkEvent::Lost => {
                            for ifc in reg.all() {
                                match crate::sys::netlink::link_state(ifc.ifindex) {
                                    Ok(_) => ifc.sync_link(),
                                    Err(_) => {
                                        let _ = reg.destroy_this(&ifc);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        })?;
    Ok(())
}
