//! Scripted, deterministic traffic: the bundled sample captures and large synthetic captures for benchmarks.
//! Frames are built by [`crate::wire::craft`]; only the writing at the end touches files.

pub mod bench;
pub mod conversation;
pub mod samples;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::blocks::section_header::SectionHeaderBlock;
use pcap_file::{DataLink, Endianness};

pub use bench::write_bench;
use conversation::SynthFrame;

use crate::capture::writer::PcapFileWriter;
use crate::capture::{Frame, Precision};
use crate::wire::LinkType;

/// Writes frames to a classic pcap file.
pub fn write_pcap(path: &Path, link_type: LinkType, frames: &[SynthFrame]) -> anyhow::Result<()> {
    let name = path.display().to_string();
    let mut writer = PcapFileWriter::create(&name, Precision::Micro)?;
    for f in frames {
        writer.write(&Frame { raw_stamp: None, ts: f.ts, link_type, orig_len: f.orig_len, data: &f.data })?;
    }
    writer.finish()?;
    Ok(())
}

const MULTI_INTERFACE_FILE: &str = "multi-interface.pcapng";

fn write_multi_interface(path: &Path) -> anyhow::Result<()> {
    let (ethernet, raw_v6) = samples::multi_interface();
    let file = BufWriter::new(fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
    let section = SectionHeaderBlock { endianness: Endianness::Little, ..Default::default() };
    let mut writer = PcapNgWriter::with_section_header(file, section)?;
    let interface = |linktype, tsresol| InterfaceDescriptionBlock {
        linktype,
        snaplen: 262_144,
        options: vec![InterfaceDescriptionOption::IfTsResol(tsresol)],
    };
    writer.write_pcapng_block(interface(DataLink::ETHERNET, 6))?;
    writer.write_pcapng_block(interface(DataLink::IPV6, 9))?;
    // Interleave the two interfaces in time order; pcap-file stores the timestamp field in interface units.
    let mut all: Vec<(u32, &SynthFrame)> =
        ethernet.iter().map(|f| (0, f)).chain(raw_v6.iter().map(|f| (1, f))).collect();
    all.sort_by_key(|(_, f)| f.ts);
    for (interface_id, f) in all {
        let units = if interface_id == 0 { f.ts.as_nanos() / 1_000 } else { f.ts.as_nanos() };
        let block = EnhancedPacketBlock {
            interface_id,
            timestamp: std::time::Duration::from_nanos(units),
            original_len: f.orig_len,
            data: std::borrow::Cow::Borrowed(&f.data),
            options: vec![],
        };
        writer.write_pcapng_block(block)?;
    }
    writer.into_inner().flush()?;
    Ok(())
}

/// Regenerates every bundled sample and `README.md` in `dir`.
pub fn write_samples(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut readme = String::from(
        "# Sample captures\n\n\
         Small captures synscope makes itself with its own crafting code (`src/synth/`). Regenerate them, byte for \
         byte, with:\n\n    cargo run --release -- gen captures captures\n\n\
         `tests/samples.rs` checks that the files here match what the code generates, and `tests/golden.rs` \
         compares synscope's text and JSON output for each with `tests/golden/`.\n\n\
         | file | link type | packets | what it shows |\n|---|---|---|---|\n",
    );
    for sample in samples::all() {
        write_pcap(&dir.join(sample.file), sample.link_type, &sample.frames)?;
        readme.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            sample.file,
            sample.link_type,
            sample.frames.len(),
            sample.shows
        ));
    }
    write_multi_interface(&dir.join(MULTI_INTERFACE_FILE))?;
    let (a, b) = samples::multi_interface();
    readme.push_str(&format!(
        "| {MULTI_INTERFACE_FILE} | ethernet (1) + ipv6 (229) | {} | pcapng with two interfaces: the UDP exchange on \
         Ethernet at microsecond resolution, an IPv6 handshake as raw IP at nanosecond resolution |\n",
        a.len() + b.len()
    ));
    fs::write(dir.join("README.md"), readme).context("writing captures/README.md")?;
    Ok(())
}
