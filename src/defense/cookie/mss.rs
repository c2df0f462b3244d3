//! The MSS values a cookie can carry. A cookie has room for a 2-bit index only, so the server rounds the client's
//! MSS down to a table entry, as Linux's `__cookie_v4_init_sequence` and `__cookie_v6_init_sequence` do; the tables
//! are Linux's `msstab` (net/ipv4/syncookies.c, net/ipv6/syncookies.c), chosen to hit the common path MTUs.

/// IPv4 MSS values: the RFC 9293 default, then 1500-byte Ethernet behind tunnels/PPPoE, and plain Ethernet.
pub const MSS_TABLE_V4: [u16; 4] = [536, 1300, 1440, 1460];

/// IPv6 MSS values: the IPv6 minimum MTU (1280 - 60), 1480 - 60, 1500 - 60 and 9000-byte jumbo frames - 60.
pub const MSS_TABLE_V6: [u16; 4] = [1220, 1420, 1440, 8940];

/// The table a tuple's address family uses.
pub(super) fn table(v4: bool) -> &'static [u16; 4] {
    if v4 { &MSS_TABLE_V4 } else { &MSS_TABLE_V6 }
}

/// Index of the largest entry not above the client's MSS. An absent MSS means the RFC 9293 §3.7.1 default, entry 0.
/// A client MSS below entry 0 still gets entry 0, as in Linux: the loop there stops at index 0 without comparing.
pub(super) fn encode(table: &[u16; 4], client_mss: Option<u16>) -> u32 {
    let Some(mss) = client_mss else { return 0 };
    table.iter().rposition(|&entry| entry <= mss).unwrap_or(0) as u32
}
