//! Why the fast path is not there, and where on the receive path it attaches. A leaf of `xdp`: the loader
//! (`mod.rs`) and the settings map (`settings.rs`) both return these errors.

/// Why the fast path is not there; each says what to do about it in one line.
#[derive(Debug, thiserror::Error)]
pub enum FastPathError {
    #[error("this synscope was built without XDP support ({0})")]
    NotBuilt(&'static str),
    #[error("loading the XDP program needs root (CAP_BPF and CAP_NET_ADMIN); run synscope as root")]
    NotPermitted,
    #[error("the kernel refused the XDP program: {0}")]
    Refused(String),
    #[error(
        "{interface}: already has an XDP program attached (another guard's, or another tool's); stop that one, or \
         use --fast-path packet"
    )]
    Busy { interface: String },
    #[error("{interface}: cannot attach the XDP program in {} mode: {reason}", mode.name())]
    Attach { interface: String, mode: AttachMode, reason: String },
    #[error("the XDP program's maps: {0}")]
    Map(String),
}

/// Where on the receive path the program runs (`ip link set dev IFACE xdpdrv|xdpgeneric`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// In the driver, before the kernel allocates anything for the frame.
    Native,
    /// Generic XDP: after the frame became an skb, on any interface. XDP_TX then transmits through the interface's
    /// own transmit path.
    Skb,
}

impl AttachMode {
    pub fn name(self) -> &'static str {
        match self {
            AttachMode::Native => "native",
            AttachMode::Skb => "skb",
        }
    }
}
