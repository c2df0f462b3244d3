//! The interfaces of this network namespace, as pnet lists them (`getifaddrs`): for `sniff --list-interfaces`, for
//! resolving `-i NAME`, and for the unknown-interface error, which lists the ones that exist.

use std::fmt::Write as _;

pub use pnet_datalink::NetworkInterface;

#[derive(Debug, thiserror::Error)]
#[error(
    "no interface named '{name}' in this network namespace; the ones that exist: {existing} (see --list-interfaces)"
)]
pub struct UnknownInterface {
    pub name: String,
    pub existing: String,
}

/// Every interface, in kernel index order.
pub fn all() -> Vec<NetworkInterface> {
    let mut list = pnet_datalink::interfaces();
    list.sort_by_key(|i| i.index);
    list
}

/// The interface called `name`.
pub fn find(name: &str) -> Result<NetworkInterface, UnknownInterface> {
    let list = all();
    if let Some(found) = list.iter().find(|i| i.name == name) {
        return Ok(found.clone());
    }
    let existing = list.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ");
    Err(UnknownInterface {
        name: name.to_string(),
        existing: if existing.is_empty() { "none".into() } else { existing },
    })
}

/// One line per interface, as `tcpdump -D` prints them, with the addresses after:
/// `1.lo [Up, Running, Loopback] 127.0.0.1/8 ::1/128`.
pub fn describe(list: &[NetworkInterface]) -> String {
    let mut out = String::new();
    for interface in list {
        let mut flags = Vec::new();
        if interface.is_up() {
            flags.push("Up");
        }
        if interface.is_running() {
            flags.push("Running");
        }
        if interface.is_loopback() {
            flags.push("Loopback");
        }
        let _ = write!(out, "{}.{} [{}]", interface.index, interface.name, flags.join(", "));
        if let Some(mac) = interface.mac.filter(|m| !interface.is_loopback() && !m.is_zero()) {
            let _ = write!(out, " {mac}");
        }
        for ip in &interface.ips {
            let _ = write!(out, " {ip}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed_and_found() {
        // Every network namespace has `lo`, and getifaddrs lists it even without addresses.
        let lo = find("lo").expect("lo exists");
        assert!(lo.is_loopback());
        assert!(describe(&all()).lines().any(|l| l.contains(".lo [") && l.contains("Loopback")));
    }

    #[test]
    fn an_unknown_interface_names_the_ones_that_exist() {
        let err = find("nosuch0").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("'nosuch0'"), "{text}");
        assert!(text.contains("lo"), "{text}");
    }
}
