//! The guard's XDP fast path: the edge that loads `syn_cookie.bpf.c`, writes its configuration map, attaches it to
//! an interface and reads its counters. The program answers pure SYNs to the protected service in the driver with
//! the SYN-ACK the userspace guard would send (`XDP_TX`), and passes everything else to the guard's rings.
//!
//! The loader is [aya](https://aya-rs.dev): pure Rust, so a machine needs no libbpf at run time, and a build
//! without clang still compiles everything else (`build.rs` sets the `synscope_xdp` cfg only when the program
//! compiled). The program is attached through a BPF link (`BPF_LINK_CREATE`, Linux 5.9+): the link belongs to
//! this process's file descriptor, so the kernel detaches the program when the process exits by any path, SIGKILL
//! included, and nothing is left on the interface.

pub mod config;
mod error;
pub mod ethtool;
pub mod kernel_bridge;
pub mod settings;

use std::io;

use aya::Ebpf;

use crate::defense::guard::ProxyChange;
use aya::maps::{Array, PerCpuArray};
use aya::programs::{TestRun, TestRunOptions, Xdp, XdpMode};

pub use config::{HeldKey, XdpConfig, XdpCounters};
pub use error::{AttachMode, FastPathError};
pub use settings::ProgramSettings;

const PROGRAM: &str = "synscope_guard";
const CONFIG_MAP: &str = "guard_config";
const COUNTER_MAP: &str = "guard_counters";
const HELD_MAP: &str = "guard_held";
const HELD_HINT_MAP: &str = "guard_held_hint";

/// XDP verdicts (`enum xdp_action`, include/uapi/linux/bpf.h).
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;

/// The loaded program, its maps, and where it is attached. Dropping it detaches the program.
pub struct FastPath {
    ebpf: Ebpf,
    /// The settings map, shared with the guard's threads (they may turn answering off).
    settings: std::sync::Arc<ProgramSettings>,
    /// Held while the kernel times every program run (BPF_ENABLE_STATS); closing it turns the timing off.
    run_time_stats: Option<std::os::fd::OwnedFd>,
}

impl FastPath {
    /// Loads the program (verified by the kernel) and writes `config` into its map; not attached yet. The map of
    /// held clients gets room for `held_capacity` of them: every proxy table's bound together.
    pub fn load(config: XdpConfig, held_capacity: u32) -> Result<FastPath, FastPathError> {
        let bytes = program_bytes()?;
        let mut ebpf = aya::EbpfLoader::new().map_max_entries(HELD_MAP, held_capacity.max(1)).load(bytes).map_err(
            |e| match e {
                aya::EbpfError::MapError(aya::maps::MapError::CreateError { io_error, .. })
                    if io_error.raw_os_error() == Some(libc::EPERM) =>
                {
                    FastPathError::NotPermitted
                }
                other => FastPathError::Refused(first_line(&other.to_string())),
            },
        )?;
        let program: &mut Xdp = ebpf
            .program_mut(PROGRAM)
            .ok_or_else(|| FastPathError::Refused(format!("the object has no program {PROGRAM}")))?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| FastPathError::Refused(e.to_string()))?;
        program.load().map_err(|e| match &e {
            aya::programs::ProgramError::LoadError { io_error, .. } if io_error.raw_os_error() == Some(libc::EPERM) => {
                FastPathError::NotPermitted
            }
            aya::programs::ProgramError::LoadError { io_error, verifier_log } => {
                if std::env::var_os("SYNSCOPE_XDP_VERIFIER_LOG").is_some() {
                    eprintln!("{verifier_log}");
                }
                FastPathError::Refused(format!(
                    "{io_error}; the verifier said: {}",
                    verifier_verdict(&verifier_log.to_string())
                ))
            }
            _ => FastPathError::Refused(first_line(&e.to_string())),
        })?;
        let map = ebpf.take_map(CONFIG_MAP).ok_or_else(|| FastPathError::Map(format!("no map {CONFIG_MAP}")))?;
        let map = Array::try_from(map).map_err(|e| FastPathError::Map(e.to_string()))?;
        let settings = std::sync::Arc::new(ProgramSettings::new(map, config)?);
        Ok(FastPath { ebpf, settings, run_time_stats: None })
    }

    /// Attaches the program to `interface`: in the driver (`native`), or in the kernel's receive path once the
    /// frame is an skb (`skb`, generic XDP).
    pub fn attach(&mut self, interface: &str, mode: AttachMode) -> Result<(), FastPathError> {
        let program: &mut Xdp = self
            .ebpf
            .program_mut(PROGRAM)
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| FastPathError::Refused(format!("the object has no XDP program {PROGRAM}")))?;
        let xdp_mode = match mode {
            AttachMode::Native => XdpMode::Driver,
            AttachMode::Skb => XdpMode::Skb,
        };
        program.attach(interface, xdp_mode).map_err(|e| {
            // aya's message names the failed call only; the kernel's reason is the error's source.
            let (busy, reason) = match &e {
                aya::programs::ProgramError::SyscallError(call) => {
                    (call.io_error.raw_os_error() == Some(libc::EBUSY), format!("{}: {}", call.call, call.io_error))
                }
                other => (false, other.to_string()),
            };
            if busy {
                FastPathError::Busy { interface: interface.to_string() }
            } else {
                FastPathError::Attach { interface: interface.to_string(), mode, reason: first_line(&reason) }
            }
        })?;
        Ok(())
    }

    pub fn config(&self) -> XdpConfig {
        self.settings.current()
    }

    /// Replaces the configuration, for example a new clock offset or `enabled` cleared.
    pub fn set_config(&mut self, config: XdpConfig) -> Result<(), FastPathError> {
        self.settings.update(|current| *current = config)
    }

    /// The settings map, for the guard's threads.
    pub fn settings(&self) -> std::sync::Arc<ProgramSettings> {
        std::sync::Arc::clone(&self.settings)
    }

    /// Points the program's clock at packet time: `CLOCK_REALTIME - CLOCK_MONOTONIC` now. The map's value is
    /// rewritten only when the offset moved by a millisecond or more (the wall clock was stepped or slewed that
    /// far): an array map's update is a plain copy into the value the program reads, so a run that reads it
    /// mid-copy may see a mix of the old and new offset. Rewriting it rarely keeps that rare, and its worst case is
    /// one SYN-ACK whose cookie counter is off, which its client's ACK then fails, and the client retries.
    pub fn sync_clock(&mut self) -> Result<(), FastPathError> {
        let offset = realtime_minus_monotonic_ns();
        let written = self.settings.current().clock_offset_ns;
        if written != 0 && (offset - written).abs() < 1_000_000 {
            return Ok(());
        }
        self.settings.update(|config| config.clock_offset_ns = offset)
    }

    /// The counters, summed over CPUs.
    pub fn counters(&self) -> Result<XdpCounters, FastPathError> {
        let map = self.ebpf.map(COUNTER_MAP).ok_or_else(|| FastPathError::Map(format!("no map {COUNTER_MAP}")))?;
        let array: PerCpuArray<_, u64> = PerCpuArray::try_from(map).map_err(|e| FastPathError::Map(e.to_string()))?;
        let mut slots = [0u64; config::COUNTER_SLOTS as usize];
        for (slot, total) in slots.iter_mut().enumerate() {
            let values = array.get(&(slot as u32), 0).map_err(|e| FastPathError::Map(e.to_string()))?;
            *total = values.iter().sum();
        }
        Ok(XdpCounters::from_slots(slots))
    }

    /// Takes the map of held clients out of the program's object, for the guard's threads to share. The program
    /// keeps using it; only the handle moves.
    pub fn take_held(&mut self) -> Result<HeldTuples, FastPathError> {
        let mut take =
            |name: &str| self.ebpf.take_map(name).ok_or_else(|| FastPathError::Map(format!("no map {name}")));
        let (exact, hint) = (take(HELD_MAP)?, take(HELD_HINT_MAP)?);
        let exact = aya::maps::HashMap::try_from(exact).map_err(|e| FastPathError::Map(e.to_string()))?;
        let hint = Array::try_from(hint).map_err(|e| FastPathError::Map(e.to_string()))?;
        let maps = HeldMaps {
            exact,
            hint,
            present: std::collections::HashSet::new(),
            per_slot: vec![0; config::HELD_SLOTS],
            bits: [0; config::HELD_SLOTS / 8],
        };
        Ok(HeldTuples { maps: std::sync::Mutex::new(maps), refused: std::sync::atomic::AtomicU64::new(0) })
    }

    /// Has the kernel time every run of every BPF program (BPF_ENABLE_STATS, Linux 5.8+) until this fast path is
    /// dropped: two clock reads a run, so only when asked. Nothing global is left changed: the timing ends with the
    /// file descriptor.
    pub fn time_runs(&mut self) -> Result<(), FastPathError> {
        let fd = aya::sys::enable_stats(aya::sys::Stats::RunTime)
            .map_err(|e| FastPathError::Map(format!("turning on BPF run-time statistics: {e}")))?;
        self.run_time_stats = Some(fd);
        Ok(())
    }

    /// The program's runs and the nanoseconds they took, when [`FastPath::time_runs`] was called.
    pub fn run_time(&self) -> Option<(u64, u64)> {
        self.run_time_stats.as_ref()?;
        let info = self.program().ok()?.info().ok()?;
        Some((info.run_count(), info.run_time().as_nanos() as u64))
    }

    /// The loaded program.
    fn program(&self) -> io::Result<&Xdp> {
        self.ebpf
            .program(PROGRAM)
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| io::Error::other(format!("the object has no XDP program {PROGRAM}")))
    }

    /// Runs the program `repeat` times on `frame` (BPF_PROG_TEST_RUN); the mean nanoseconds per run, as the
    /// kernel measured them.
    pub fn time_on(&self, frame: &[u8], repeat: u32) -> io::Result<u64> {
        Ok(self.test_run(frame, repeat)?.0.duration.as_nanos() as u64)
    }

    /// Runs the program once on `frame` without an interface (BPF_PROG_TEST_RUN): its verdict and the frame as it
    /// left the program.
    pub fn run_on(&self, frame: &[u8]) -> io::Result<(u32, Vec<u8>)> {
        let (result, mut out) = self.test_run(frame, 1)?;
        out.truncate(result.data_size_out as usize);
        Ok((result.return_value, out))
    }

    fn test_run(&self, frame: &[u8], repeat: u32) -> io::Result<(aya::programs::TestRunResult, Vec<u8>)> {
        let program = self.program()?;
        let mut out = vec![0u8; 4096];
        let options =
            TestRunOptions { data_in: Some(frame), data_out: Some(&mut out), repeat, ..TestRunOptions::default() };
        let result = program.test_run(options).map_err(|e| io::Error::other(e.to_string()))?;
        Ok((result, out))
    }
}

/// The program's map of clients the proxy holds, shared by the guard's threads: each writes its proxy table's
/// changes into it (the kernel's map is safe to update from several threads; the lock is for aya's `&mut`).
pub struct HeldTuples {
    maps: std::sync::Mutex<HeldMaps>,
    /// Inserts the map refused (full): those clients' SYNs would be answered in XDP and their segments checked as
    /// cookie ACKs, so the guard stops the ACK checks at the first refusal (`cmd/guard/fast_path.rs`).
    refused: std::sync::atomic::AtomicU64,
}

/// The program's two maps of held clients, and what is in them, kept here so that each change costs one update.
struct HeldMaps {
    exact: aya::maps::HashMap<aya::maps::MapData, HeldKey, u8>,
    hint: Array<aya::maps::MapData, [u8; config::HELD_SLOTS / 8]>,
    /// The keys in `exact`, and how many of them fall in each slot of `hint`.
    present: std::collections::HashSet<HeldKey>,
    per_slot: Vec<u32>,
    bits: [u8; config::HELD_SLOTS / 8],
}

impl HeldTuples {
    /// Mirrors one change of a proxy table: the exact map first and the hint after on the way in, the other way
    /// round on the way out, so the program never skips a client the exact map holds.
    pub fn apply(&self, change: ProxyChange) {
        let Ok(mut maps) = self.maps.lock() else { return };
        let maps = &mut *maps;
        match change {
            ProxyChange::Held(tuple) => {
                let key = HeldKey::of(&tuple);
                if maps.present.contains(&key) {
                    return;
                }
                if maps.exact.insert(key, 1, 0).is_err() {
                    self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                maps.present.insert(key);
                let slot = key.slot();
                maps.per_slot[slot] += 1;
                if maps.per_slot[slot] == 1 {
                    maps.bits[slot / 8] |= 1 << (slot % 8);
                    let _ = maps.hint.set(0, maps.bits, 0);
                }
            }
            // Absent (held before the mirror started, or refused): nothing to undo.
            ProxyChange::Released(tuple) => {
                let key = HeldKey::of(&tuple);
                if !maps.present.remove(&key) {
                    return;
                }
                let slot = key.slot();
                maps.per_slot[slot] -= 1;
                if maps.per_slot[slot] == 0 {
                    maps.bits[slot / 8] &= !(1 << (slot % 8));
                    let _ = maps.hint.set(0, maps.bits, 0);
                }
                let _ = maps.exact.remove(&key);
            }
        }
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The compiled program, when `build.rs` could compile it.
fn program_bytes() -> Result<&'static [u8], FastPathError> {
    #[cfg(synscope_xdp)]
    {
        Ok(aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/syn_cookie.bpf.o")))
    }
    #[cfg(not(synscope_xdp))]
    {
        Err(FastPathError::NotBuilt(env!("SYNSCOPE_XDP_MISSING")))
    }
}

/// Whether this binary carries the XDP program.
pub fn built_in() -> bool {
    program_bytes().is_ok()
}

/// The verifier's reason: the last non-empty lines of its log before the summary ("processed N insns ...").
/// `SYNSCOPE_XDP_VERIFIER_LOG=1` prints the whole log.
fn verifier_verdict(log: &str) -> String {
    let lines: Vec<&str> =
        log.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("processed ")).collect();
    let tail = &lines[lines.len().saturating_sub(2)..];
    first_line(&tail.join(" / "))
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or(text).chars().take(300).collect()
}

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec.saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec)
}

/// `CLOCK_REALTIME - CLOCK_MONOTONIC`, read back to back: what turns `bpf_ktime_get_ns()` into the wall-clock
/// packet time the rings stamp frames with.
pub fn realtime_minus_monotonic_ns() -> i64 {
    let monotonic = clock_ns(libc::CLOCK_MONOTONIC);
    let realtime = clock_ns(libc::CLOCK_REALTIME);
    realtime - monotonic
}
