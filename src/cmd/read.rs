//! `synscope read`: capture files → file source thread → bounded channel → engine (DESIGN.md data flow). Reading
//! is lossless: the source blocks when the engine is busy.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::Context;

use crate::capture::Precision;
use crate::capture::source::{FileSource, SourceEvent};
use crate::capture::writer::PcapFileWriter;
use crate::cli::{ConnLogFormatArg, Format, ReadArgs, TrackArgs, UsageError};
use crate::engine::fail_on::FailOnCheck;
use crate::engine::{Engine, Flow};
use crate::filter::Filter;
use crate::output::connlog::{ConnLogFormat, ConnLogWriter};
use crate::output::connlog_thread::ConnLogThread;
use crate::output::json::JsonPrinter;
use crate::output::progress::Progress;
use crate::output::text::{TextOptions, TextPrinter, TimeFormat};
use crate::output::{QuietSink, Sink};
use crate::track::flood::FloodConfig;
use crate::track::{Tracker, TrackerConfig};

/// Exit status when a `--fail-on` condition held (DESIGN.md conventions).
pub const EXIT_FAIL_ON: u8 = 3;

pub fn run(args: &ReadArgs) -> anyhow::Result<ExitCode> {
    let (files, expression) = args.files_and_filter()?;
    let filter = Filter::parse(&expression).map_err(|e| UsageError(e.to_string()))?;
    if args.track.no_track && (args.track.conn_log.is_some() || !args.track.fail_on.is_empty()) {
        return Err(UsageError("--conn-log and --fail-on need tracking; drop --no-track".into()).into());
    }
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();

    let out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let sink: Box<dyn Sink> = match (args.quiet, args.format) {
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
    let mut engine = Engine::new(filter, sink, tracker_for(&args.track)?, args.count)
        .with_fail_on(FailOnCheck::new(&args.track.fail_on));
    if let Some(path) = &args.track.conn_log {
        engine = engine.with_conn_log(conn_log(path, args.track.conn_log_format)?);
    }

    let source = FileSource::spawn(files).context("starting the file reader thread")?;
    let progress = Progress::for_files(total_bytes);
    'events: for event in source.events.iter() {
        match event {
            SourceEvent::FileStarted { precision, .. } => {
                if let (None, Some(path)) = (&engine.writer, &args.write) {
                    let precision = if args.nano { Precision::Nano } else { precision };
                    engine.writer = Some(PcapFileWriter::create(path, precision)?);
                }
            }
            SourceEvent::Failed(err) => {
                engine.summary.file_errors += 1;
                engine.flush().context("writing output")?;
                eprintln!("synscope: {err}");
            }
            SourceEvent::Frames(batch) => {
                for frame in batch.iter() {
                    if engine.frame(&frame)? == Flow::Done {
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
    if let (None, Some(path)) = (&engine.writer, &args.write) {
        // No file could be opened: still leave a valid, empty pcap, as tcpdump -w does.
        engine.writer = Some(PcapFileWriter::create(path, Precision::Micro)?);
    }
    engine.finish()?;
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{}", engine.summary);
    let failures = engine.fail_on.failures();
    for failure in &failures {
        let _ = writeln!(stderr, "synscope: {failure}");
    }
    Ok(if engine.summary.file_errors > 0 {
        ExitCode::from(1)
    } else if !failures.is_empty() {
        ExitCode::from(EXIT_FAIL_ON)
    } else {
        ExitCode::SUCCESS
    })
}

fn tracker_for(args: &TrackArgs) -> anyhow::Result<Option<Tracker>> {
    if args.no_track {
        return Ok(None);
    }
    if !(0.0..=1.0).contains(&args.flood_max_completion) {
        return Err(
            UsageError(format!("--flood-max-completion {} is not between 0 and 1", args.flood_max_completion)).into()
        );
    }
    if args.max_flows == 0 {
        return Err(UsageError("--max-flows must be at least 1".into()).into());
    }
    let config = TrackerConfig {
        max_flows: args.max_flows,
        syn_timeout: args.syn_timeout,
        flood: FloodConfig {
            syn_rate: args.flood_syn_rate,
            max_completion: args.flood_max_completion,
            ..FloodConfig::default()
        },
        ..TrackerConfig::default()
    };
    Ok(Some(Tracker::new(config)))
}

fn conn_log(path: &str, format: ConnLogFormatArg) -> anyhow::Result<ConnLogThread> {
    let file = File::create(path).with_context(|| format!("cannot create connection log {path}"))?;
    let format = match format {
        ConnLogFormatArg::Zeek => ConnLogFormat::Zeek,
        ConnLogFormatArg::Json => ConnLogFormat::Json,
    };
    let writer = ConnLogWriter::new(BufWriter::with_capacity(1 << 16, file), format);
    ConnLogThread::spawn(writer).context("starting the connection log writer")
}
