//! synscope: a raw-socket packet inspector and SYN-flood mitigation testbed.
//!
//! The crate is layered so that the same code runs on a live interface, on a capture file and in a test:
//!
//! - [`wire`]: decoding and crafting of frames, [`filter`]: tcpdump-like expressions, and [`track`]: the connection
//!   tracker (annotations, Zeek-style connection records, SYN-flood detection). All are **pure**: they do no I/O,
//!   spawn no threads and never read a clock. Time arrives with each frame ([`time::Timestamp`]).
//! - [`defense`]: SYN-flood defences (SYN cookies, half-open limits, rate limits, the SYN proxy) as pure state
//!   machines, driven by the guard and the lab.
//! - [`capture`]: the edge that touches packets: capture files in, pcap files out, live rings, send-only sockets.
//! - [`hash_key`]: the one hashing policy for tables whose keys an attacker chooses: SipHash-1-3 under a key the edge
//!   passes in.
//! - [`os_random`]: the edge that reads the kernel's random generator (the guard's cookie keys).
//! - [`xdp`]: the edge that loads the guard's XDP program (`src/xdp/syn_cookie.bpf.c`, compiled by `build.rs`),
//!   writes its maps and reads its counters: SYNs answered and forged ACKs dropped in the kernel, in front of the
//!   guard's rings.
//! - [`engine`]: one per source; decodes, tracks, filters and prints each frame in order.
//! - [`output`]: printers (text, JSON, summary, connection log) behind one [`output::Sink`] trait.
//! - [`synth`]: scripted, deterministic traffic built with [`wire::craft`], for the bundled captures and benchmarks.
//! - [`rng`]: the seeded generator (xorshift64*) behind every reproducible stream: synth, the flood, impair, the
//!   lab's simulation, tests.
//! - [`flood`]: the SYN-flood generator: spoofed SYNs patched from one template frame and paced by a token bucket
//!   (pure), sent in batches through a `PACKET_TX_RING` past the qdisc (the edge).
//! - [`impair`]: link impairments as `tc netem` applies them (loss, duplication, delay, jitter, reordering), pure;
//!   `synscope impair` bridges two interfaces through them, for kernels without `sch_netem`.
//! - [`listener`]: the companion echo listener and clients, speaking the seed tutorial's TCP/UDP protocol.
//! - [`netns`]: named network namespaces entered from a thread: the kernel's SYN-flood sysctls and counters.
//! - [`lab`]: the SYN-flood lab: namespaces, trials, the simulation, the report and charts.
//! - [`safety`]: the traffic safety rule: crafted or replayed traffic goes only to loopback or into a network
//!   namespace other than the initial one.
//! - [`cmd`]: one module per subcommand; the only place that wires the layers together.
//!
//! See `docs/ARCHITECTURE.md` for the whole picture: the life of a packet, the core's rules, who owns what.

pub mod capture;
pub mod cli;
pub mod cmd;
pub mod defense;
pub mod engine;
pub mod filter;
pub mod flood;
pub mod hash_key;
pub mod impair;
pub mod lab;
pub mod listener;
pub mod netns;
pub mod os_random;
pub mod output;
pub mod rng;
pub mod safety;
pub mod synth;
pub mod time;
pub mod track;
pub mod wire;
pub mod xdp;
