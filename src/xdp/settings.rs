//! The program's settings map (`guard_config`), shared by the main thread and the guard's threads.
//!
//! The main thread writes it (clock offset, SYN answering on); a guard thread may have to turn SYN answering off
//! the moment it sees a frame the program could not have read correctly (a VLAN tag the driver took out, see
//! `cmd/guard/bridge.rs`). One lock orders the writes, and once answering is stopped it stays stopped: a later
//! write from a copy taken before the stop cannot turn it back on.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use aya::maps::{Array, MapData};

use super::{FastPathError, XdpConfig};

pub struct ProgramSettings {
    inner: Mutex<Inner>,
    /// Answering was stopped for good; readable without the lock on every frame.
    stopped: AtomicBool,
}

struct Inner {
    map: Array<MapData, XdpConfig>,
    current: XdpConfig,
    /// Why answering was stopped, until the main thread takes it to say so.
    stop_reason: Option<String>,
}

impl ProgramSettings {
    /// Takes the map and writes `initial` into it.
    pub(super) fn new(map: Array<MapData, XdpConfig>, initial: XdpConfig) -> Result<ProgramSettings, FastPathError> {
        let settings = ProgramSettings {
            inner: Mutex::new(Inner { map, current: initial, stop_reason: None }),
            stopped: AtomicBool::new(false),
        };
        settings.update(|_| {})?;
        Ok(settings)
    }

    pub fn current(&self) -> XdpConfig {
        self.lock().current
    }

    /// Edits the settings and writes them to the map; `enabled` stays 0 once answering was stopped.
    pub fn update(&self, edit: impl FnOnce(&mut XdpConfig)) -> Result<(), FastPathError> {
        let mut inner = self.lock();
        let mut next = inner.current;
        edit(&mut next);
        if self.stopped.load(Ordering::Acquire) {
            next.enabled = 0;
        }
        inner.current = next;
        inner.map.set(0, next, 0).map_err(|e| FastPathError::Map(e.to_string()))
    }

    /// Turns SYN answering (and the ACK checks) off for good, for `why`; only the first call does anything.
    pub fn stop_answering(&self, why: impl FnOnce() -> String) -> Result<(), FastPathError> {
        if self.stopped.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut inner = self.lock();
        if self.stopped.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        inner.stop_reason = Some(why());
        inner.current.enabled = 0;
        let current = inner.current;
        inner.map.set(0, current, 0).map_err(|e| FastPathError::Map(e.to_string()))
    }

    pub fn answering_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Why answering was stopped, once: for the main thread's one line.
    pub fn take_stop_reason(&self) -> Option<String> {
        self.lock().stop_reason.take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A thread that panicked holding the lock left the settings whole (each write is one map update).
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
