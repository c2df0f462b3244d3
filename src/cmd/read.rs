//! `synscope read`: capture files → file source thread → bounded channel → decode, filter, print (DESIGN.md data
//! flow). Reading is lossless: the source blocks when the engine is busy.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::Context;

use crate::capture::Precision;
use crate::capture::source::{FileSource, SourceEvent};
use crate::capture::writer::PcapFileWriter;
use crate::cli::{Format, ReadArgs, UsageError};
use crate::filter::Filter;
use crate::output::json::JsonPrinter;
use crate::output::progress::Progress;
use crate::output::summary::Summary;
use crate::output::text::{TextOptions, TextPrinter, TimeFormat};
use crate::output::{PacketRecord, QuietSink, Sink};
use crate::wire::decode;

pub fn run(args: &ReadArgs) -> anyhow::Result<ExitCode> {
    let (files, expression) = args.files_and_filter()?;
    let filter = Filter::parse(&expression).map_err(|e| UsageError(e.to_string()))?;
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();

    let stdout = io::stdout().lock();
    let out = BufWriter::with_capacity(1 << 16, stdout);
    let mut sink: Box<dyn Sink> = match (args.quiet, args.format) {
        (true, _) => Box::new(QuietSink),
        (false, Format::Json) => Box::new(JsonPrinter::new(out)),
        (false, Format::Text) => Box::new(TextPrinter::new(
            out,
            TextOptions {
                time: TimeFormat::from_t_count(args.time_format),
                nano: args.nano,
                absolute_seq: args.absolute_seq,
                link_header: args.link_header,
            },
        )),
    };

    let source = FileSource::spawn(files);
    let progress = Progress::for_files(total_bytes);
    let mut writer: Option<PcapFileWriter<_>> = None;
    let mut summary = Summary::default();
    let mut number = 0u64;
    let limit = args.count.unwrap_or(u64::MAX);

    'events: for event in source.events.iter() {
        match event {
            SourceEvent::FileStarted { precision, .. } => {
                if let (None, Some(path)) = (&writer, &args.write) {
                    writer = Some(PcapFileWriter::create(path, writer_precision(precision, args.nano))?);
                }
            }
            SourceEvent::Failed(err) => {
                summary.file_errors += 1;
                sink.finish().context("writing output")?;
                eprintln!("synscope: {err}");
            }
            SourceEvent::Frames(batch) => {
                for frame in batch.iter() {
                    number += 1;
                    let packet = decode(frame.link_type, frame.data);
                    summary.count(frame.ts, frame.orig_len, &packet);
                    if !filter.matches(&packet) {
                        continue;
                    }
                    summary.matched += 1;
                    sink.packet(&PacketRecord { number, frame: &frame, packet: &packet }).context("writing output")?;
                    if let Some(writer) = writer.as_mut() {
                        writer.write(&frame)?;
                    }
                    if summary.matched >= limit {
                        break 'events;
                    }
                }
                let _ = source.recycle.try_send(batch);
                progress.set(source.bytes_read.load(Ordering::Relaxed));
            }
        }
    }
    drop(source.events);
    let _ = source.thread.join();
    progress.finish();
    sink.finish().context("writing output")?;
    if let Some(writer) = writer {
        writer.finish()?;
    } else if let Some(path) = &args.write {
        // No file could be opened: still leave a valid, empty pcap, as tcpdump -w does.
        PcapFileWriter::create(path, Precision::Micro)?.finish()?;
    }
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{summary}");
    Ok(if summary.file_errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn writer_precision(input: Precision, nano_flag: bool) -> Precision {
    if nano_flag { Precision::Nano } else { input }
}
