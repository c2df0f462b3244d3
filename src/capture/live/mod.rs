//! Live capture: one AF_PACKET TPACKET_V3 ring and one capture thread per interface, all feeding the engine over
//! one bounded channel (DESIGN.md data flow). A capture thread never blocks on the engine: when the channel is full
//! it counts the batch as dropped and goes back to the ring, because a ring the kernel cannot fill is dropped
//! frames we would not even hear about.
//!
//! pnet lists the interfaces; receiving is ours, because pnet's receiver throws away the `sockaddr_ll` (so it
//! cannot skip loopback's outgoing copy), the kernel timestamp and the drop counters.

pub mod convert;
pub mod frame_ring;
mod mapping;
pub mod ring;
pub mod socket;
pub mod syn_filter;
mod thread;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use super::FrameBatch;
use crate::time::Timestamp;
use crate::wire::LinkType;
use convert::Conversion;
use ring::Ring;
use socket::{LinkMode, OpenError, PacketSocket};

/// Batches in flight from all capture threads to the engine.
const CHANNEL_BATCHES: usize = 64;
/// How long a partly filled block may wait before the kernel hands it over: the latency of a quiet interface.
pub(crate) const RETIRE_MS: u32 = 20;

/// How to capture.
#[derive(Clone, Copy, Debug)]
pub struct LiveConfig {
    pub snaplen: u32,
    pub promiscuous: bool,
    /// Ring size per interface.
    pub buffer_bytes: usize,
}

/// What the capture threads tell the engine.
pub enum LiveEvent {
    Frames(FrameBatch),
    /// Nothing arrived for a while; this is the kernel's clock now, so time-outs can fire on a quiet interface.
    Tick(Timestamp),
    /// A capture thread stopped on an error (the interface went away, say).
    Failed {
        interface: String,
        error: String,
    },
}

/// Counters of one interface, shared between its capture thread and the engine.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Frames handed to the engine.
    pub captured: AtomicU64,
    /// Frames the kernel queued to our socket, its drops included (PACKET_STATISTICS `tp_packets`; on loopback
    /// both copies of each frame count).
    pub kernel_received: AtomicU64,
    /// Frames the kernel dropped because our ring was full.
    pub kernel_dropped: AtomicU64,
    /// Frames we dropped because the engine's channel was full.
    pub channel_dropped: AtomicU64,
}

/// A snapshot of [`LiveCounters`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct InterfaceStats {
    pub interface: String,
    pub captured: u64,
    pub kernel_received: u64,
    pub kernel_dropped: u64,
    pub channel_dropped: u64,
}

impl InterfaceStats {
    pub fn dropped(&self) -> u64 {
        self.kernel_dropped + self.channel_dropped
    }
}

/// One interface being captured.
pub struct Capture {
    pub interface: String,
    pub link_type: LinkType,
    pub counters: Arc<LiveCounters>,
}

impl LiveCounters {
    /// The counts now, under the interface's name.
    pub fn snapshot(&self, interface: &str) -> InterfaceStats {
        InterfaceStats {
            interface: interface.to_string(),
            captured: self.captured.load(Ordering::Relaxed),
            kernel_received: self.kernel_received.load(Ordering::Relaxed),
            kernel_dropped: self.kernel_dropped.load(Ordering::Relaxed),
            channel_dropped: self.channel_dropped.load(Ordering::Relaxed),
        }
    }
}

impl Capture {
    pub fn stats(&self) -> InterfaceStats {
        self.counters.snapshot(&self.interface)
    }
}

pub struct LiveSource {
    pub events: Receiver<LiveEvent>,
    /// Drained batches go back here for reuse.
    pub recycle: Sender<FrameBatch>,
    pub captures: Vec<Capture>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// An interface to open: its name, kernel index, and whether it is loopback.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub index: u32,
    pub loopback: bool,
}

impl LiveSource {
    /// Opens every interface first, so that a missing privilege or a bad interface is reported before any thread
    /// starts, then starts one capture thread per interface.
    pub fn open(targets: &[Target], config: LiveConfig) -> Result<LiveSource, OpenError> {
        let mut rings = Vec::new();
        for target in targets {
            let hardware = socket::hardware_type(&target.name).map_err(|e| OpenError::Os {
                interface: target.name.clone(),
                step: "interface type",
                source: e,
            })?;
            let mode = LinkMode::for_arphrd(hardware);
            let socket = PacketSocket::open(&target.name, target.index, mode)?;
            if config.promiscuous {
                socket.set_promiscuous()?;
            }
            let ring = Ring::new(socket, config.buffer_bytes, RETIRE_MS)?;
            let conversion = Conversion { mode, skip_outgoing: target.loopback, snaplen: config.snaplen };
            rings.push((target.name.clone(), ring, conversion));
        }
        let (tx, events) = bounded(CHANNEL_BATCHES);
        let (recycle, recycled) = bounded(CHANNEL_BATCHES + 4);
        let stop = Arc::new(AtomicBool::new(false));
        let mut captures = Vec::new();
        let mut threads = Vec::new();
        for (name, ring, conversion) in rings {
            let counters = Arc::new(LiveCounters::default());
            captures.push(Capture {
                interface: name.clone(),
                link_type: conversion.mode.link_type(),
                counters: Arc::clone(&counters),
            });
            let worker = thread::Worker {
                interface: name.clone(),
                ring,
                conversion,
                counters,
                tx: tx.clone(),
                recycled: recycled.clone(),
                stop: Arc::clone(&stop),
            };
            let handle = std::thread::Builder::new()
                .name(format!("capture-{name}"))
                .spawn(move || worker.run())
                .map_err(|e| OpenError::Os { interface: name, step: "starting the capture thread", source: e })?;
            threads.push(handle);
        }
        Ok(LiveSource { events, recycle, captures, stop, threads })
    }

    /// Asks the capture threads to stop. Each hands over the frames it already has, reads the kernel's counters
    /// a last time and hangs up; the engine keeps draining [`LiveSource::events`] until it is disconnected, so
    /// nothing captured before the stop is lost.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops the capture threads and waits for them.
    pub fn stop(&mut self) {
        self.request_stop();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    pub fn stats(&self) -> Vec<InterfaceStats> {
        self.captures.iter().map(Capture::stats).collect()
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.stop();
    }
}
