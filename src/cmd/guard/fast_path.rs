//! `guard --fast-path`: whether SYNs are answered in the driver by the XDP program (`crate::xdp`) or read from the
//! packet rings, and the watch kept on the XDP path while it runs.
//!
//! - `xdp`: the XDP program, or an error saying why not.
//! - `packet`: the rings only, as before the fast path existed.
//! - `auto` (the default): XDP when it loads and attaches, otherwise the rings, with one line saying why.
//!
//! The program answers SYNs with cookies only, so it runs in `--mode cookies`. It also drops ACKs that carry no
//! valid cookie from clients the proxy does not hold; the threads keep that set in the program's map
//! (`xdp::HeldTuples`). While it runs, the guard watches the
//! driver's XDP_TX failure counter (`ethtool -S`): a veth whose peer is not in NAPI mode (GRO off and no XDP program
//! of its own, veth's default) drops every frame XDP bounces back. The first failure turns the program's SYN
//! answering off, and SYNs go to the rings from then on, with one line saying so.

use std::sync::Arc;

use serde::Serialize;

use crate::cli::parse::UsageError;
use crate::defense::guard::GuardConfig;
use crate::defense::policy::Mode;
use crate::xdp::ethtool::{NicStats, driver_name};
use crate::xdp::{AttachMode, FastPath, FastPathError, HeldTuples, ProgramSettings, XdpConfig, XdpCounters};

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FastPathArg {
    Xdp,
    Packet,
    Auto,
}

/// `--xdp-mode`: where the program is attached (xdp-loader's `--mode native|skb`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum XdpModeArg {
    /// In the driver; on a veth only where the peer runs an XDP program too (see `choose_mode`).
    Native,
    /// Generic XDP, once the frame is an skb: works on every interface.
    Skb,
    /// `skb` on a veth, `native` elsewhere, and `skb` where the driver refuses native.
    Auto,
}

/// The XDP program in front of the rings, attached to the outside interface.
pub struct XdpFront {
    path: FastPath,
    interface: String,
    mode: AttachMode,
    /// Why the mode is what it is, for the startup line.
    mode_reason: String,
    /// The driver's XDP_TX failures, when it counts them, and their count at attach time.
    tx_errors: Option<(NicStats, u64)>,
    /// Why SYN answering was turned off while running, if it was.
    turned_off: Option<String>,
    /// The clients the proxy holds, as the threads mirror them into the program's map.
    held: Option<Arc<HeldTuples>>,
    /// ACK checking was turned off because the map refused a client (so its segments would have been checked).
    acks_passed_on: bool,
}

/// How the run's SYNs were answered, for the final statistics.
#[derive(Debug, Serialize)]
pub struct FastPathReport {
    /// "xdp" or "packet".
    pub kind: &'static str,
    /// Why the packet rings answer SYNs, when they do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_packet: Option<String>,
    /// "native" or "skb", with XDP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xdp_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xdp: Option<XdpCounters>,
    /// Frames the driver failed to send back (XDP_TX).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xdp_tx_errors: Option<u64>,
    /// With `--xdp-stats`: the program's runs, and the CPU nanoseconds they took in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xdp_runs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xdp_run_ns: Option<u64>,
    /// Clients the proxy held that the program's map had no room for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_refused: Option<u64>,
}

impl FastPathReport {
    /// The report of a guard whose SYNs the rings answer, and why.
    pub fn packet(why: Option<String>) -> FastPathReport {
        FastPathReport {
            kind: "packet",
            why_packet: why,
            xdp_mode: None,
            xdp: None,
            xdp_tx_errors: None,
            xdp_runs: None,
            xdp_run_ns: None,
            held_refused: None,
        }
    }
}

/// The program loaded and configured, not yet attached: [`XdpLoaded::attach`] hangs it on the interface once the
/// guard's packet sockets are open.
pub struct XdpLoaded {
    path: FastPath,
    choice: FastPathArg,
    mode: XdpModeArg,
    time_runs: bool,
    outside: String,
}

/// Loads the fast path `choice` asks for. `Ok(None)` is the packet path; `why` says why, for the report. Whatever
/// refuses the program (the mode, privileges, a binary without it) is said here, before any socket is opened.
pub fn open(
    choice: FastPathArg,
    mode: XdpModeArg,
    time_runs: bool,
    held_capacity: u32,
    config: &GuardConfig,
    key: &[u8; 32],
    outside: &str,
) -> anyhow::Result<(Option<XdpLoaded>, Option<String>)> {
    if choice == FastPathArg::Packet {
        return Ok((None, Some("--fast-path packet".into())));
    }
    let unsupported = if config.mode != Mode::Cookies {
        Some(format!(
            "the XDP fast path answers SYNs with cookies, so it runs with --mode cookies, not {}",
            config.mode.as_str()
        ))
    } else if config.syn_rate_per_source.is_some() {
        Some("--syn-rate-per-source is applied by the packet path only".to_string())
    } else {
        None
    };
    if let Some(why) = unsupported {
        if choice == FastPathArg::Xdp {
            return Err(UsageError(format!("--fast-path xdp: {why}")).into());
        }
        return Ok((None, Some(why)));
    }
    // An interface that is not there gets the error every command gives for one, not an attach failure.
    crate::capture::interfaces::find(outside)?;
    match load(config, key, held_capacity) {
        Ok(path) => Ok((Some(XdpLoaded { path, choice, mode, time_runs, outside: outside.to_string() }), None)),
        Err(e) if choice == FastPathArg::Xdp => Err(anyhow::anyhow!("--fast-path xdp: {e}")),
        Err(e) => Ok((None, Some(e.to_string()))),
    }
}

fn load(config: &GuardConfig, key: &[u8; 32], held_capacity: u32) -> Result<FastPath, FastPathError> {
    // Loaded passing everything: a SYN it answered before the rings are open would be lost with its cookie ACK,
    // which the program passes up to no ring (the client, connected, would wait for a listener that never heard of
    // it). `XdpFront::start_answering` turns it on once they are.
    let mut xdp_config = XdpConfig::for_guard(config, key);
    xdp_config.enabled = 0;
    let mut path = FastPath::load(xdp_config, held_capacity)?;
    path.sync_clock()?;
    Ok(path)
}

impl XdpLoaded {
    /// Attaches the program to the outside interface. Call it after every packet socket is open, so that its BPF
    /// link is the guard's last descriptor: a process killed with SIGKILL has its files released last-opened first
    /// (`task_work` runs in LIFO order), so the program is detached within milliseconds, instead of answering SYNs
    /// through the ~150 ms the packet sockets take to close (a `synchronize_rcu` or three each) with no process left
    /// to take the ACKs that complete them. `Ok(None)` is the packet path, under `--fast-path auto`, and why.
    pub fn attach(self) -> anyhow::Result<(Option<XdpFront>, Option<String>)> {
        match attach(self.path, &self.outside, self.mode) {
            Ok(mut front) => {
                if self.time_runs {
                    front.path.time_runs()?;
                }
                Ok((Some(front), None))
            }
            Err(e) if self.choice == FastPathArg::Xdp => Err(anyhow::anyhow!("--fast-path xdp: {e}")),
            Err(e) => Ok((None, Some(e.to_string()))),
        }
    }
}

fn attach(mut path: FastPath, outside: &str, mode: XdpModeArg) -> Result<XdpFront, FastPathError> {
    let asked = mode;
    let (mode, mode_reason) = choose_mode(asked, outside);
    let (mode, mode_reason) = match path.attach(outside, mode) {
        Ok(()) => (mode, mode_reason),
        // Under auto, a driver without native XDP gets generic XDP, which runs on every interface. A native attach
        // asked for by name fails instead.
        Err(FastPathError::Attach { reason, .. }) if asked == XdpModeArg::Auto && mode == AttachMode::Native => {
            path.attach(outside, AttachMode::Skb)?;
            (AttachMode::Skb, format!("the driver refused native XDP: {reason}"))
        }
        Err(e) => return Err(e),
    };
    let tx_errors = NicStats::matching(outside, "xdp_tx_err")
        .ok()
        .filter(|stats| !stats.is_empty())
        .and_then(|mut stats| stats.sum().ok().map(|now| (stats, now)));
    Ok(XdpFront {
        path,
        interface: outside.to_string(),
        mode,
        mode_reason,
        tx_errors,
        turned_off: None,
        held: None,
        acks_passed_on: false,
    })
}

/// Where to attach on `outside`, and why when it is not the driver. A veth gets generic XDP: in native mode a
/// veth transmits XDP_TX frames only into a peer that runs an XDP program of its own, and while one runs it takes
/// TSO from the peer (drivers/net/veth.c `veth_xdp_xmit`, `veth_fix_features`), so a native program on a guard's
/// veth needs the far end changed and slows every bulk transfer. Generic XDP_TX goes out through the veth's own
/// transmit path, which needs nothing of the peer; on this project's 2-vCPU machine it also answered more SYNs a
/// second than native mode with a pass-through program on the peer (1.48M against 0.85M, `guard --xdp-mode`).
fn choose_mode(mode: XdpModeArg, outside: &str) -> (AttachMode, String) {
    match mode {
        XdpModeArg::Native => (AttachMode::Native, String::new()),
        XdpModeArg::Skb => (AttachMode::Skb, "--xdp-mode skb".into()),
        XdpModeArg::Auto => match driver_name(outside) {
            Ok(driver) if driver == "veth" => (
                AttachMode::Skb,
                format!("{outside} is a veth, whose native XDP_TX reaches only a peer running XDP itself"),
            ),
            _ => (AttachMode::Native, String::new()),
        },
    }
}

impl XdpFront {
    /// Keeps the program's clock on packet time, and turns SYN answering off for good at the first XDP_TX
    /// failure. Call it often (every 50 ms): a SYN-ACK lost to a failing XDP_TX costs its client a retransmission.
    pub fn watch(&mut self, sync_clock: bool) {
        if sync_clock && self.turned_off.is_none() {
            let _ = self.path.sync_clock();
        }
        self.watch_held();
        if self.turned_off.is_some() {
            return;
        }
        let settings = self.path.settings();
        if let Some(why) = settings.take_stop_reason() {
            // A guard thread stopped the answering (`cmd/guard/bridge.rs`); this is where it is said.
            let why = format!("{}: {why}", self.interface);
            eprintln!("synscope: fast path: {why}");
            self.turned_off = Some(why);
            return;
        }
        let failures = self.tx_failures().unwrap_or(0);
        if failures == 0 {
            return;
        }
        let why = format!(
            "XDP_TX fails on {} ({failures} SYN-ACKs lost): a veth delivers native XDP frames only to a peer that runs \
             an XDP program of its own; SYNs go to the packet rings from now on",
            self.interface
        );
        match settings.stop_answering(|| why.clone()) {
            Ok(()) => eprintln!("synscope: fast path: {why}"),
            Err(e) => eprintln!("synscope: fast path: {why}, but changing the program's settings failed: {e}"),
        }
        let _ = settings.take_stop_reason();
        self.turned_off = Some(why);
    }

    /// Starts answering SYNs and checking ACKs: call it once every thread's rings take frames, so a cookie ACK the
    /// program passes has a ring to land in. Until then it passes everything, as if there were no program.
    pub fn start_answering(&mut self) -> anyhow::Result<()> {
        let mut config = self.path.config();
        config.enabled = 1;
        self.path.set_config(config).map_err(|e| anyhow::anyhow!("turning the XDP program's SYN answering on: {e}"))
    }

    /// XDP_TX failures the driver counted since the program was attached, when it counts them.
    fn tx_failures(&mut self) -> Option<u64> {
        let (stats, at_start) = self.tx_errors.as_mut()?;
        Some(stats.sum().unwrap_or(*at_start).saturating_sub(*at_start))
    }

    /// Rewrites the program's settings with `edit`, and says `why` in one line.
    fn change_config(&mut self, why: &str, edit: impl FnOnce(&mut XdpConfig)) {
        let mut config = self.path.config();
        edit(&mut config);
        match self.path.set_config(config) {
            Ok(()) => eprintln!("synscope: fast path: {why}"),
            Err(e) => eprintln!("synscope: fast path: {why}, but changing the program's settings failed: {e}"),
        }
    }

    pub fn counters(&self) -> XdpCounters {
        self.path.counters().unwrap_or_default()
    }

    /// The startup line's account of where the program runs.
    pub fn describe(&self) -> String {
        match self.mode {
            AttachMode::Native => format!("XDP on {} (native mode): SYNs are answered in the driver", self.interface),
            AttachMode::Skb => format!(
                "XDP on {} (skb mode: {}): SYNs are answered in the kernel's receive path, before the rings",
                self.interface, self.mode_reason
            ),
        }
    }

    /// The map of clients the proxy holds, for the threads to keep current.
    pub fn take_held(&mut self) -> Result<Arc<HeldTuples>, FastPathError> {
        let held = Arc::new(self.path.take_held()?);
        self.held = Some(Arc::clone(&held));
        Ok(held)
    }

    /// The program's settings, for the threads to stop SYN answering in when they must.
    pub fn settings(&self) -> Arc<ProgramSettings> {
        self.path.settings()
    }

    /// A client the map had no room for would have its segments checked as cookie ACKs and dropped: at the first
    /// refusal the program stops checking ACKs (fails open), with one line. The map is sized for every thread's
    /// proxy table, so this is a guard against a bug, not an expected path.
    fn watch_held(&mut self) {
        let refused = self.held.as_ref().map_or(0, |held| held.refused());
        if refused == 0 || self.acks_passed_on {
            return;
        }
        let why = format!(
            "the map of proxied clients refused {refused}; ACKs are no longer checked in XDP, the packet rings check them"
        );
        self.change_config(&why, |config| config.drop_bad_acks = 0);
        self.acks_passed_on = true;
    }

    pub fn report(&mut self) -> FastPathReport {
        // A thread may have stopped the answering after the last watch (within its last 50 ms): say so here.
        if self.turned_off.is_none()
            && let Some(why) = self.path.settings().take_stop_reason()
        {
            self.turned_off = Some(format!("{}: {why}", self.interface));
        }
        let run_time = self.path.run_time();
        FastPathReport {
            kind: "xdp",
            why_packet: self.turned_off.clone(),
            xdp_mode: Some(self.mode.name()),
            xdp: Some(self.counters()),
            xdp_tx_errors: self.tx_failures(),
            xdp_runs: run_time.map(|(runs, _)| runs),
            xdp_run_ns: run_time.map(|(_, ns)| ns),
            held_refused: Some(self.held.as_ref().map_or(0, |held| held.refused())),
        }
    }
}
