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
const SLACK: usize = 256;

/// The name of `interface`'s driver, as `ethtool -i` prints it ("veth", "mlx5_core", ...).
pub fn driver_name(interface: &str) -> io::Result<String> {
    let ethtool = Ethtool::open(interface)?;
    // struct ethtool_drvinfo: u32 cmd, then driver[32], version[32], fw_version[32], bus_info[32],
    // erom_version[32], reserved2[12], and five u32 counts: 196 bytes.
    let mut buffer = Aligned::new(196);
    buffer.put_u32(0, ETHTOOL_GDRVINFO);
    ethtool.ioctl(buffer.as_mut_ptr())?;
    let driver = &buffer.bytes()[4..36];
    let end = driver.iter().position(|&b| b == 0).unwrap_or(driver.len());
    Ok(String::from_utf8_lossy(&driver[..end]).into_owned())
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
    needle: String,
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
        let mut stats = NicStats { ethtool, needle: needle.to_string(), count: 0, picked: Vec::new() };
        stats.pick()?;
        Ok(stats)
    }

    /// Reads the names again and picks the matching ones.
    fn pick(&mut self) -> io::Result<()> {
        self.count = self.stat_count()?;
        let names = self.names()?;
        self.picked = names.iter().enumerate().filter(|(_, n)| n.contains(&self.needle)).map(|(i, _)| i).collect();
        Ok(())
    }

    /// How many statistics matched.
    pub fn len(&self) -> usize {
        self.picked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.picked.is_empty()
    }

    /// The matching statistics added up, now. A driver whose count of statistics changed (veth's grows with its
    /// queues) has its names read again first, so the sum is of the statistics named, wherever they moved.
    pub fn sum(&mut self) -> io::Result<u64> {
        if self.stat_count()? != self.count {
            self.pick()?;
        }
        if self.picked.is_empty() {
            return Ok(0);
        }
        // struct ethtool_stats { u32 cmd; u32 n_stats; u64 data[]; }. The kernel writes as many statistics as the
        // driver has at that moment, whatever room the caller made (net/ethtool/ioctl.c `ethtool_get_stats`), so
        // there is slack beyond the count just read, and only the `n_stats` it wrote back is believed.
        let mut buffer = Aligned::new(8 + (self.count + SLACK) * 8);
        buffer.put_u32(0, ETHTOOL_GSTATS);
        buffer.put_u32(4, self.count as u32);
        self.ethtool.ioctl(buffer.as_mut_ptr())?;
        let written = (buffer.u32_at(4) as usize).min(self.count + SLACK);
        Ok(self.picked.iter().filter(|&&i| i < written).map(|&i| buffer.u64_at(8 + i * 8)).sum())
    }

    fn stat_count(&self) -> io::Result<usize> {
        // struct ethtool_sset_info { u32 cmd; u32 reserved; u64 sset_mask; u32 data[]; }: one set asked, one count.
        let mut buffer = Aligned::new(24);
        buffer.put_u32(0, ETHTOOL_GSSET_INFO);
        buffer.put_u64(8, 1 << ETH_SS_STATS);
        match self.ethtool.ioctl(buffer.as_mut_ptr()) {
            Ok(()) => {}
            // A driver without statistics (loopback, dummy) answers EOPNOTSUPP.
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return Ok(0),
            Err(e) => return Err(e),
        }
        let count = if buffer.u64_at(8) & (1 << ETH_SS_STATS) != 0 { buffer.u32_at(16) as usize } else { 0 };
        if count > MAX_STATS {
            return Err(io::Error::other(format!("the driver reports {count} statistics")));
        }
        Ok(count)
    }

    fn names(&self) -> io::Result<Vec<String>> {
        if self.count == 0 {
            return Ok(Vec::new());
        }
        // struct ethtool_gstrings { u32 cmd; u32 string_set; u32 len; u8 data[]; }. As with the statistics, the
        // kernel writes as many names as the driver has now: slack, and only the `len` it wrote back is read.
        let room = self.count + SLACK;
        let mut buffer = Aligned::new(12 + room * ETH_GSTRING_LEN);
        buffer.put_u32(0, ETHTOOL_GSTRINGS);
        buffer.put_u32(4, ETH_SS_STATS);
        buffer.put_u32(8, self.count as u32);
        self.ethtool.ioctl(buffer.as_mut_ptr())?;
        let written = (buffer.u32_at(8) as usize).min(room);
        Ok(buffer.bytes()[12..12 + written * ETH_GSTRING_LEN]
            .chunks_exact(ETH_GSTRING_LEN)
            .map(|raw| {
                let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                String::from_utf8_lossy(&raw[..end]).into_owned()
            })
            .collect())
    }
}

/// A zeroed, 8-byte-aligned buffer for an ethtool request, with its fields read and written in native byte order
/// at byte offsets, as the kernel's structs lay them out.
struct Aligned(Vec<u64>);

impl Aligned {
    fn new(bytes: usize) -> Aligned {
        Aligned(vec![0; bytes.div_ceil(8)])
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: any u64 is 8 valid bytes; the slice covers exactly the vector's elements.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast(), self.0.len() * 8) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; any byte pattern is a valid u64.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast(), self.0.len() * 8) }
    }

    fn as_mut_ptr(&mut self) -> *mut libc::c_void {
        self.0.as_mut_ptr().cast()
    }

    fn put_u32(&mut self, at: usize, value: u32) {
        self.bytes_mut()[at..at + 4].copy_from_slice(&value.to_ne_bytes());
    }

    fn put_u64(&mut self, at: usize, value: u64) {
        self.bytes_mut()[at..at + 8].copy_from_slice(&value.to_ne_bytes());
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_ne_bytes(self.bytes()[at..at + 4].try_into().expect("4 bytes"))
    }

    fn u64_at(&self, at: usize) -> u64 {
        u64::from_ne_bytes(self.bytes()[at..at + 8].try_into().expect("8 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_keeps_no_driver_statistics_and_sums_to_zero() {
        // Loopback has no ETH_SS_STATS set; the reader says so with an empty set rather than an error.
        let Ok(mut stats) = NicStats::matching("lo", "xdp_tx_errors") else { return };
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
