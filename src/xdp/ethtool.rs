//! What `ethtool -i` and `ethtool -S` tell about an interface (the `SIOCETHTOOL` ioctl): its driver's name
//! (`ETHTOOL_GDRVINFO`), and its driver's own statistics (`ETHTOOL_GSSET_INFO`, `ETHTOOL_GSTRINGS`,
//! `ETHTOOL_GSTATS`). The guard reads one family of statistics: the XDP_TX failures a driver counts,
//! which is the only sign that frames the XDP program bounced never left. veth counts them as
//! `rx_queue_N_xdp_tx_errors`; it cannot transmit an XDP frame to a peer that is not in NAPI mode (neither GRO on
//! nor an XDP program of its own), drivers/net/veth.c `veth_xdp_xmit`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GDRVINFO: u32 = 0x03;
const ETHTOOL_GSSET_INFO: u32 = 0x37;
const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSTATS: u32 = 0x1d;
const ETH_SS_STATS: u32 = 1;
const ETH_GSTRING_LEN: usize = 32;
/// More statistics than any driver has: a bound on what a reply may ask us to allocate.
const MAX_STATS: usize = 65_536;
/// Room beyond the count last read, in case the driver grows between two calls.
const STATS_SLACK: usize = 256;

/// The name of `interface`'s driver, as `ethtool -i` prints it ("veth", "mlx5_core", ...).
pub fn driver_name(interface: &str) -> io::Result<String> {
    let ethtool = Ethtool::open(interface)?;
    // struct ethtool_drvinfo: u32 cmd, then driver[32], version[32], fw_version[32], bus_info[32],
    // erom_version[32], reserved2[12], and five u32 counts: 196 bytes.
    let mut buffer = [0u32; 49];
    buffer[0] = ETHTOOL_GDRVINFO;
    ethtool.ioctl(buffer.as_mut_ptr().cast())?;
    let bytes: Vec<u8> = buffer[1..9].iter().flat_map(|w| w.to_ne_bytes()).collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

/// An ioctl socket and the name it asks about.
struct Ethtool {
    socket: OwnedFd,
    interface: [libc::c_char; libc::IFNAMSIZ],
}

impl Ethtool {
    fn open(interface: &str) -> io::Result<Ethtool> {
        if interface.is_empty() || interface.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{interface:?}: not an interface name")));
        }
        // SAFETY: socket(2) with constant arguments; the result is checked before it is owned.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut name = [0 as libc::c_char; libc::IFNAMSIZ];
        for (slot, byte) in name.iter_mut().zip(interface.bytes()) {
            *slot = byte as libc::c_char;
        }
        Ok(Ethtool { socket, interface: name })
    }

    fn ioctl(&self, data: *mut libc::c_void) -> io::Result<()> {
        let mut request = IfReq { name: self.interface, data, _pad: [0; 16] };
        // SAFETY: `request` names the interface and points at a buffer sized for the command it holds (the callers
        // size it from the driver's own count); the kernel writes no further than that.
        let rc = unsafe { libc::ioctl(self.socket.as_raw_fd(), SIOCETHTOOL as _, &mut request) };
        if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }
}

/// The statistics of one interface whose names match, read again on each [`NicStats::sum`].
pub struct NicStats {
    ethtool: Ethtool,
    count: usize,
    /// Indexes of the statistics to add up.
    picked: Vec<usize>,
}

#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

impl NicStats {
    /// The statistics of `interface` whose names contain `needle`. An interface whose driver keeps no statistics
    /// gives an empty set, which always sums to zero.
    pub fn matching(interface: &str, needle: &str) -> io::Result<NicStats> {
        let ethtool = Ethtool::open(interface)?;
        let mut stats = NicStats { ethtool, count: 0, picked: Vec::new() };
        stats.count = stats.stat_count()?;
        let names = stats.names()?;
        stats.picked = names.iter().enumerate().filter(|(_, n)| n.contains(needle)).map(|(i, _)| i).collect();
        Ok(stats)
    }

    /// How many statistics matched.
    pub fn len(&self) -> usize {
        self.picked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.picked.is_empty()
    }

    /// The matching statistics added up, now.
    pub fn sum(&self) -> io::Result<u64> {
        if self.picked.is_empty() {
            return Ok(0);
        }
        // The kernel writes as many statistics as the driver has now, without looking at how many the caller made
        // room for (net/ethtool/ioctl.c `ethtool_get_stats`), and a driver's count can change with its queues.
        // Room for the count as read just now, and slack beyond it.
        let count = self.stat_count()?.max(self.count);
        // struct ethtool_stats { u32 cmd; u32 n_stats; u64 data[]; }
        let mut buffer = vec![0u64; 1 + count + STATS_SLACK];
        buffer[0] = u64::from(ETHTOOL_GSTATS) | (count as u64) << 32;
        self.ethtool.ioctl(buffer.as_mut_ptr().cast())?;
        Ok(self.picked.iter().filter_map(|&i| buffer.get(1 + i)).sum())
    }

    fn stat_count(&self) -> io::Result<usize> {
        // struct ethtool_sset_info { u32 cmd; u32 reserved; u64 sset_mask; u32 data[1]; }
        let mut buffer = [0u32; 6];
        buffer[0] = ETHTOOL_GSSET_INFO;
        buffer[2] = 1 << ETH_SS_STATS;
        match self.ethtool.ioctl(buffer.as_mut_ptr().cast()) {
            Ok(()) => {}
            // A driver without statistics (loopback, dummy) answers EOPNOTSUPP.
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return Ok(0),
            Err(e) => return Err(e),
        }
        let mask = u64::from(buffer[2]) | u64::from(buffer[3]) << 32;
        let count = if mask & (1 << ETH_SS_STATS) != 0 { buffer[4] as usize } else { 0 };
        if count > MAX_STATS {
            return Err(io::Error::other(format!("the driver reports {count} statistics")));
        }
        Ok(count)
    }

    fn names(&self) -> io::Result<Vec<String>> {
        if self.count == 0 {
            return Ok(Vec::new());
        }
        // struct ethtool_gstrings { u32 cmd; u32 string_set; u32 len; u8 data[]; }, kept u32-aligned.
        let mut buffer = vec![0u32; 3 + self.count * ETH_GSTRING_LEN / 4];
        buffer[0] = ETHTOOL_GSTRINGS;
        buffer[1] = ETH_SS_STATS;
        buffer[2] = self.count as u32;
        self.ethtool.ioctl(buffer.as_mut_ptr().cast())?;
        let bytes: Vec<u8> = buffer[3..].iter().flat_map(|w| w.to_ne_bytes()).collect();
        Ok(bytes
            .chunks_exact(ETH_GSTRING_LEN)
            .map(|raw| {
                let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                String::from_utf8_lossy(&raw[..end]).into_owned()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_keeps_no_driver_statistics_and_sums_to_zero() {
        // Loopback has no ETH_SS_STATS set; the reader says so with an empty set rather than an error.
        let Ok(stats) = NicStats::matching("lo", "xdp_tx_errors") else { return };
        assert!(stats.is_empty());
        assert_eq!(stats.sum().unwrap(), 0);
    }

    #[test]
    fn loopback_has_no_driver_to_name_or_names_one() {
        // The loopback device answers GDRVINFO with an empty name or not at all; either way, no panic and no
        // garbage past the name.
        if let Ok(name) = driver_name("lo") {
            assert!(name.len() < 32 && !name.contains('\0'), "{name:?}");
        }
        assert!(driver_name("no-such-if0").is_err());
    }

    #[test]
    fn an_overlong_name_is_refused() {
        assert!(NicStats::matching("an-interface-name-far-too-long", "x").is_err());
    }
}
