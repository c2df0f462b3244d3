//! Off mode's kernel bridge: loads `kernel_bridge.bpf.c`, points each of the guard's two interfaces at the other,
//! attaches it to both ingresses through TCX links, and reads what it moved.
//!
//! TCX (`BPF_LINK_CREATE` with `BPF_TCX_INGRESS`, Linux 6.6) rather than a netlink tc filter: the links belong to
//! this process's file descriptors, so the kernel detaches the program when the guard exits by any path, SIGKILL
//! included. A netlink filter would outlive a killed guard and go on bridging, unseen. Kernels without TCX refuse
//! the link, and the guard forwards through its rings instead.

use std::ffi::CString;

use aya::Ebpf;
use aya::maps::{Array, PerCpuArray};
use aya::programs::links::LinkOrder;
use aya::programs::tc::TcAttachOptions;
use aya::programs::{SchedClassifier, TcAttachType};
use serde::Serialize;

use super::first_line;

const PROGRAM: &str = "synscope_bridge";
const PORTS_MAP: &str = "bridge_ports";
const COUNTER_MAP: &str = "bridge_counters";
/// Counters per side, in the program's order: frames, bytes, super-frames, their bytes.
const COUNTERS_PER_SIDE: u32 = 4;

/// Why the kernel bridge is not there; each says what is wrong in one line.
#[derive(Debug, thiserror::Error)]
pub enum KernelBridgeError {
    #[error("this synscope was built without its BPF programs ({0})")]
    NotBuilt(&'static str),
    #[error("loading the kernel bridge needs root (CAP_BPF and CAP_NET_ADMIN); run synscope as root")]
    NotPermitted,
    #[error("the kernel refused the bridge program: {0}")]
    Refused(String),
    #[error("{interface}: cannot attach the kernel bridge as a TCX link (Linux 6.6 or later): {reason}")]
    Attach { interface: String, reason: String },
    #[error("{0}: no such interface")]
    NoInterface(String),
    #[error("the kernel bridge's maps: {0}")]
    Map(String),
}

/// `struct bridge_port` of the program.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct BridgePort {
    ifindex: u32,
    peer_ifindex: u32,
    /// The receiving interface's own MAC: frames to it also go up the gateway's stack.
    mac: [u8; 6],
    pad: [u8; 2],
}

// SAFETY: two u32s and eight bytes, repr(C), no implicit padding; every bit pattern is valid.
unsafe impl aya::Pod for BridgePort {}

/// What the program moved from one side to the other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SideCounts {
    pub frames: u64,
    pub bytes: u64,
    /// GSO super-frames among them, and their bytes: left whole for the egress device to segment.
    pub super_frames: u64,
    pub super_frame_bytes: u64,
}

/// Frames that arrived on the outside (and left by the inside), and the other way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BridgeCounts {
    pub from_outside: SideCounts,
    pub from_inside: SideCounts,
}

impl BridgeCounts {
    pub fn frames(&self) -> u64 {
        self.from_outside.frames + self.from_inside.frames
    }
}

/// The loaded, attached program. Dropping it detaches it from both interfaces.
pub struct KernelBridge {
    ebpf: Ebpf,
}

impl KernelBridge {
    /// Loads the program, writes the two interfaces into its map and attaches it to both ingresses (the inside
    /// first: until both are attached, frames from the outside still go the kernel's own way, which in a guard's
    /// namespace drops them, as before the guard started).
    pub fn open(
        (outside, outside_mac): (&str, [u8; 6]),
        (inside, inside_mac): (&str, [u8; 6]),
    ) -> Result<KernelBridge, KernelBridgeError> {
        let bytes = program_bytes()?;
        let mut ebpf = aya::EbpfLoader::new().load(bytes).map_err(|e| match e {
            aya::EbpfError::MapError(aya::maps::MapError::CreateError { io_error, .. })
                if io_error.raw_os_error() == Some(libc::EPERM) =>
            {
                KernelBridgeError::NotPermitted
            }
            other => KernelBridgeError::Refused(first_line(&other.to_string())),
        })?;
        let (outside_index, inside_index) = (ifindex(outside)?, ifindex(inside)?);
        {
            let map = ebpf.map_mut(PORTS_MAP).ok_or_else(|| KernelBridgeError::Map(format!("no map {PORTS_MAP}")))?;
            let mut ports: Array<_, BridgePort> =
                Array::try_from(map).map_err(|e| KernelBridgeError::Map(e.to_string()))?;
            let sides = [
                BridgePort { ifindex: outside_index, peer_ifindex: inside_index, mac: outside_mac, pad: [0; 2] },
                BridgePort { ifindex: inside_index, peer_ifindex: outside_index, mac: inside_mac, pad: [0; 2] },
            ];
            for (slot, port) in sides.into_iter().enumerate() {
                ports.set(slot as u32, port, 0).map_err(|e| KernelBridgeError::Map(e.to_string()))?;
            }
        }
        let program: &mut SchedClassifier = ebpf
            .program_mut(PROGRAM)
            .ok_or_else(|| KernelBridgeError::Refused(format!("the object has no program {PROGRAM}")))?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| KernelBridgeError::Refused(e.to_string()))?;
        program.load().map_err(|e| match &e {
            aya::programs::ProgramError::LoadError { io_error, .. } if io_error.raw_os_error() == Some(libc::EPERM) => {
                KernelBridgeError::NotPermitted
            }
            _ => KernelBridgeError::Refused(first_line(&e.to_string())),
        })?;
        for interface in [inside, outside] {
            let options = TcAttachOptions::TcxOrder(LinkOrder::default());
            program.attach_with_options(interface, TcAttachType::Ingress, options).map_err(|e| {
                let reason = match &e {
                    aya::programs::ProgramError::SyscallError(call) => format!("{}: {}", call.call, call.io_error),
                    other => other.to_string(),
                };
                KernelBridgeError::Attach { interface: interface.to_string(), reason: first_line(&reason) }
            })?;
        }
        Ok(KernelBridge { ebpf })
    }

    /// The counters, summed over CPUs.
    pub fn counts(&self) -> Result<BridgeCounts, KernelBridgeError> {
        let map = self.ebpf.map(COUNTER_MAP).ok_or_else(|| KernelBridgeError::Map(format!("no map {COUNTER_MAP}")))?;
        let array: PerCpuArray<_, u64> =
            PerCpuArray::try_from(map).map_err(|e| KernelBridgeError::Map(e.to_string()))?;
        let side = |side: u32| -> Result<SideCounts, KernelBridgeError> {
            let mut values = [0u64; COUNTERS_PER_SIDE as usize];
            for (i, total) in values.iter_mut().enumerate() {
                let per_cpu = array
                    .get(&(side * COUNTERS_PER_SIDE + i as u32), 0)
                    .map_err(|e| KernelBridgeError::Map(e.to_string()))?;
                *total = per_cpu.iter().sum();
            }
            let [frames, bytes, super_frames, super_frame_bytes] = values;
            Ok(SideCounts { frames, bytes, super_frames, super_frame_bytes })
        };
        Ok(BridgeCounts { from_outside: side(0)?, from_inside: side(1)? })
    }
}

fn ifindex(interface: &str) -> Result<u32, KernelBridgeError> {
    let no_interface = || KernelBridgeError::NoInterface(interface.to_string());
    let name = CString::new(interface).map_err(|_| no_interface())?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(no_interface()),
        index => Ok(index),
    }
}

fn program_bytes() -> Result<&'static [u8], KernelBridgeError> {
    #[cfg(synscope_xdp)]
    {
        Ok(aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/kernel_bridge.bpf.o")))
    }
    #[cfg(not(synscope_xdp))]
    {
        Err(KernelBridgeError::NotBuilt(env!("SYNSCOPE_XDP_MISSING")))
    }
}
