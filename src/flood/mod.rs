//! The SYN-flood generator behind `synscope flood`: spoofed SYNs, paced by a token bucket, sent in batches.
//!
//! The crafting half is pure, as DESIGN.md asks of `wire`: [`spec`] parses what to send, [`template`] patches a
//! precomputed frame per SYN, [`bucket`] decides how many may go now given a time it is told, and [`report`] turns
//! counters into lines and JSON. The sending half is the edge: [`route`] finds the interface and the next hop's
//! MAC address, [`tx`] hands batches of frames to the kernel (a `PACKET_TX_RING`, `sendmmsg`, or a raw IPv4 socket
//! for 127/8), and [`driver`] runs the loop with the one clock, on one thread or several (`--threads`).
//!
//! Why batches: hping3 makes one `sendto` on a raw socket per SYN, so each one pays a system call, a route lookup
//! and the qdisc. Here one `send` flushes a few hundred frames already laid out in memory shared with the kernel,
//! past the qdisc (`PACKET_QDISC_BYPASS`), and each frame costs a copy of a template plus two checksum updates.
//!
//! Traffic safety (DESIGN.md) is the command's first check, before any socket exists: see `cmd::flood`. A flood
//! adds one question to the rule's: where the target's answers to the spoofed sources go ([`replies`]).

pub mod bucket;
pub mod driver;
pub mod replies;
pub mod report;
pub mod route;
pub mod spec;
pub mod template;
pub mod tx;
