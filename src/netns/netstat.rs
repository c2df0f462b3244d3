//! The kernel's extended SNMP counters (`/proc/net/netstat`) of one namespace, and those a SYN flood moves.
//!
//! The file is pairs of lines with the same prefix: a header of names, then their values (`TcpExt: A B ...` /
//! `TcpExt: 1 2 ...`, the same for `IpExt:` and `MPTcpExt:`). Counters are named as nstat(8) does, prefix and name
//! together (`TcpExtListenDrops`). Every counter is per namespace (`net->mib`), so a namespace's own file counts only
//! what happened inside it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Namespace, NetnsError};

/// The calling thread's own view of `/proc/net/netstat`. `/proc/self/net` (and `/proc/net`, a link to it) would show
/// the thread-group leader's namespace, which stays in ours while a worker thread has entered another.
const THREAD_NETSTAT: &str = "/proc/thread-self/net/netstat";

/// The counters that tell how listeners fared under a SYN flood.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ListenCounters {
    /// SYN cookies sent in SYN-ACKs (the queue was full, or `tcp_syncookies=2`).
    #[serde(rename = "TcpExtSyncookiesSent")]
    pub syncookies_sent: u64,
    /// ACKs carrying a valid cookie: connections made without a request-queue entry.
    #[serde(rename = "TcpExtSyncookiesRecv")]
    pub syncookies_recv: u64,
    /// ACKs whose cookie did not check out (stale, forged, or not a cookie at all).
    #[serde(rename = "TcpExtSyncookiesFailed")]
    pub syncookies_failed: u64,
    /// Connections dropped because a listener's accept queue was full.
    #[serde(rename = "TcpExtListenOverflows")]
    pub listen_overflows: u64,
    /// Every SYN or handshake ACK a listener dropped, overflows included.
    #[serde(rename = "TcpExtListenDrops")]
    pub listen_drops: u64,
    /// SYNs dropped because the request queue was full and cookies were off.
    #[serde(rename = "TcpExtTCPReqQFullDrop")]
    pub req_q_full_drop: u64,
    /// SYNs answered with a cookie because the request queue was full.
    #[serde(rename = "TcpExtTCPReqQFullDoCookies")]
    pub req_q_full_do_cookies: u64,
}

impl ListenCounters {
    /// The nstat(8) names, in the order of [`ListenCounters::entries`].
    pub const NAMES: [&'static str; 7] = [
        "TcpExtSyncookiesSent",
        "TcpExtSyncookiesRecv",
        "TcpExtSyncookiesFailed",
        "TcpExtListenOverflows",
        "TcpExtListenDrops",
        "TcpExtTCPReqQFullDrop",
        "TcpExtTCPReqQFullDoCookies",
    ];

    /// Picks the counters out of a parsed `/proc/net/netstat`. All of them exist since Linux 3.x; a missing one
    /// means the file is not what we think it is.
    pub fn from_netstat(counters: &BTreeMap<String, u64>) -> Result<ListenCounters, String> {
        let get = |name: &str| counters.get(name).copied().ok_or_else(|| format!("no {name} counter"));
        Ok(ListenCounters {
            syncookies_sent: get(Self::NAMES[0])?,
            syncookies_recv: get(Self::NAMES[1])?,
            syncookies_failed: get(Self::NAMES[2])?,
            listen_overflows: get(Self::NAMES[3])?,
            listen_drops: get(Self::NAMES[4])?,
            req_q_full_drop: get(Self::NAMES[5])?,
            req_q_full_do_cookies: get(Self::NAMES[6])?,
        })
    }

    /// Name and value of each counter, for printing.
    pub fn entries(&self) -> [(&'static str, u64); 7] {
        let values = [
            self.syncookies_sent,
            self.syncookies_recv,
            self.syncookies_failed,
            self.listen_overflows,
            self.listen_drops,
            self.req_q_full_drop,
            self.req_q_full_do_cookies,
        ];
        std::array::from_fn(|i| (Self::NAMES[i], values[i]))
    }
}

/// Parses `/proc/net/netstat` (or `/proc/net/snmp`, which has the same shape) into nstat-style names and values.
///
/// Lines pair up by prefix: a header line, then a value line with as many fields. Anything else (an odd line, a
/// count mismatch, a value that is not a number) is an error naming the line, never a panic.
pub fn parse_netstat(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut counters = BTreeMap::new();
    let mut lines = text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty());
    while let Some((at, header)) = lines.next() {
        let (prefix, names) =
            split_prefix(header).ok_or_else(|| format!("line {}: no 'Prefix:' in {header:?}", at + 1))?;
        let Some((value_at, values)) = lines.next() else {
            return Err(format!("line {}: {prefix} header without a value line", at + 1));
        };
        let line_no = value_at + 1;
        match split_prefix(values) {
            Some((value_prefix, values)) if value_prefix == prefix => {
                let names: Vec<&str> = names.split_whitespace().collect();
                let values: Vec<&str> = values.split_whitespace().collect();
                if names.len() != values.len() {
                    return Err(format!(
                        "line {line_no}: {prefix} has {} names but {} values",
                        names.len(),
                        values.len()
                    ));
                }
                for (name, value) in names.into_iter().zip(values) {
                    let value = value
                        .parse::<u64>()
                        .map_err(|_| format!("line {line_no}: {prefix}{name} is {value:?}, not a count"))?;
                    counters.insert(format!("{prefix}{name}"), value);
                }
            }
            _ => return Err(format!("line {line_no}: expected the {prefix} values, found {values:?}")),
        }
    }
    Ok(counters)
}

fn split_prefix(line: &str) -> Option<(&str, &str)> {
    let (prefix, rest) = line.split_once(':')?;
    (!prefix.is_empty() && !prefix.contains(char::is_whitespace)).then_some((prefix, rest))
}

/// Every counter of `/proc/net/netstat` in the namespace `/run/netns/NETNS`.
pub fn read_netstat(netns: &str) -> Result<BTreeMap<String, u64>, NetnsError> {
    Namespace::open(netns)?.run(read_here)
}

/// The listen-queue and SYN-cookie counters of the namespace `/run/netns/NETNS`.
pub fn read_counters(netns: &str) -> Result<ListenCounters, NetnsError> {
    let counters = read_netstat(netns)?;
    ListenCounters::from_netstat(&counters)
        .map_err(|detail| NetnsError::Malformed { context: format!("reading {THREAD_NETSTAT} in '{netns}'"), detail })
}

/// The counters of the namespace this thread is in.
fn read_here() -> Result<BTreeMap<String, u64>, NetnsError> {
    let text = std::fs::read_to_string(THREAD_NETSTAT)
        .map_err(|err| NetnsError::io(format!("reading {THREAD_NETSTAT}"), err))?;
    parse_netstat(&text)
        .map_err(|detail| NetnsError::Malformed { context: format!("reading {THREAD_NETSTAT}"), detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed ListenOverflows ListenDrops TCPReqQFullDoCookies TCPReqQFullDrop
TcpExt: 5 4 3 2 1 7 6
IpExt: InOctets OutOctets
IpExt: 18446744073709551615 0
";

    mod parsing {
        use super::*;

        #[test]
        fn pairs_of_lines_become_prefixed_names() {
            let counters = parse_netstat(SAMPLE).unwrap();
            assert_eq!(counters["TcpExtSyncookiesSent"], 5);
            assert_eq!(counters["TcpExtTCPReqQFullDrop"], 6);
            assert_eq!(counters["IpExtInOctets"], u64::MAX);
            assert_eq!(counters.len(), 9);
        }

        #[test]
        fn the_listen_counters_are_picked_by_name_not_position() {
            let listen = ListenCounters::from_netstat(&parse_netstat(SAMPLE).unwrap()).unwrap();
            assert_eq!(
                listen,
                ListenCounters {
                    syncookies_sent: 5,
                    syncookies_recv: 4,
                    syncookies_failed: 3,
                    listen_overflows: 2,
                    listen_drops: 1,
                    req_q_full_drop: 6,
                    req_q_full_do_cookies: 7,
                }
            );
        }

        #[test]
        fn a_missing_counter_is_named() {
            let counters = parse_netstat("TcpExt: SyncookiesSent\nTcpExt: 1\n").unwrap();
            assert_eq!(ListenCounters::from_netstat(&counters).unwrap_err(), "no TcpExtSyncookiesRecv counter");
        }

        #[test]
        fn a_header_without_values_is_an_error() {
            let err = parse_netstat("TcpExt: A B\n").unwrap_err();
            assert_eq!(err, "line 1: TcpExt header without a value line");
        }

        #[test]
        fn mismatched_prefixes_are_an_error() {
            let err = parse_netstat("TcpExt: A\nIpExt: 1\n").unwrap_err();
            assert!(err.starts_with("line 2: expected the TcpExt values"), "{err}");
        }

        #[test]
        fn a_count_mismatch_is_an_error() {
            let err = parse_netstat("TcpExt: A B\nTcpExt: 1\n").unwrap_err();
            assert_eq!(err, "line 2: TcpExt has 2 names but 1 values");
        }

        #[test]
        fn a_value_that_is_not_a_number_is_an_error() {
            let err = parse_netstat("TcpExt: A\nTcpExt: -1\n").unwrap_err();
            assert_eq!(err, "line 2: TcpExtA is \"-1\", not a count");
        }

        #[test]
        fn garbage_is_an_error_not_a_panic() {
            for text in ["no colon here", ":\n:", "TcpExt: A\nTcpExt: 99999999999999999999999"] {
                assert!(parse_netstat(text).is_err(), "{text:?}");
            }
            assert!(parse_netstat("").unwrap().is_empty());
        }

        #[test]
        fn json_keys_are_nstat_names() {
            let json = serde_json::to_value(ListenCounters::default()).unwrap();
            for name in ListenCounters::NAMES {
                assert_eq!(json[name], 0, "{name}");
            }
        }
    }

    mod this_kernel {
        use super::*;

        /// Our own namespace needs no privilege: the real file parses and has every listen counter.
        #[test]
        fn the_running_kernels_netstat_has_every_listen_counter() {
            let counters = read_here().unwrap();
            let listen = ListenCounters::from_netstat(&counters).unwrap();
            assert_eq!(listen.entries().map(|(name, _)| name), ListenCounters::NAMES);
        }
    }
}
