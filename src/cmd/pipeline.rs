//! What `read` and `sniff` share: the engine built from the output and tracking flags, and the report at the end.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::parse::{Format, UsageError};
use crate::cli::{ConnLogFormatArg, OutputArgs, TrackArgs};
use crate::engine::Engine;
use crate::engine::fail_on::FailOnCheck;
use crate::filter::Filter;
use crate::output::connlog::{ConnLogFormat, ConnLogWriter};
use crate::output::connlog_thread::ConnLogThread;
use crate::output::json::JsonPrinter;
use crate::output::printer_thread::threaded_if_useful;
use crate::output::text::{TextOptions, TextPrinter, TimeFormat};
use crate::output::{QuietSink, Sink};
use crate::track::flood_detector::FloodConfig;
use crate::track::{Tracker, TrackerConfig};

/// Exit status when a `--fail-on` condition held (DESIGN.md conventions).
pub const EXIT_FAIL_ON: u8 = 3;

/// The engine for a filter expression and the flags: printer, tracker, `--fail-on` and the connection log.
pub fn engine(expression: &str, output: &OutputArgs, track: &TrackArgs) -> anyhow::Result<Engine<'static>> {
    let filter = Filter::parse(expression).map_err(|e| UsageError(e.to_string()))?;
    if track.no_track && (track.conn_log.is_some() || !track.fail_on.is_empty()) {
        return Err(UsageError("--conn-log and --fail-on need tracking; drop --no-track".into()).into());
    }
    let out = BufWriter::with_capacity(1 << 16, io::stdout());
    // Formatting runs on a printer thread of its own when there is a core for it (output::printer_thread).
    let sink: io::Result<Box<dyn Sink>> = match (output.quiet, output.format) {
        (true, _) => Ok(Box::new(QuietSink)),
        (false, Format::Json) => threaded_if_useful(JsonPrinter::new(out)),
        (false, Format::Text) => threaded_if_useful(TextPrinter::new(
            out,
            TextOptions {
                time: TimeFormat::from_t_count(output.time_format),
                nano: output.nano,
                absolute_seq: output.absolute_seq,
                link_header: output.link_header,
            },
        )),
    };
    let sink = sink.context("starting the printer thread")?;
    let mut engine =
        Engine::new(filter, sink, tracker_for(track)?, output.count).with_fail_on(FailOnCheck::new(&track.fail_on));
    if let Some(path) = &track.conn_log {
        engine = engine.with_conn_log(conn_log(path, track.conn_log_format)?);
    }
    Ok(engine)
}

/// Prints the summary and any `--fail-on` failures on stderr, and picks the exit status.
pub fn report(engine: &Engine<'_>) -> ExitCode {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{}", engine.summary);
    let failures = engine.fail_on.failures();
    for failure in &failures {
        let _ = writeln!(stderr, "synscope: {failure}");
    }
    if engine.summary.file_errors + engine.summary.capture_errors > 0 {
        ExitCode::from(1)
    } else if !failures.is_empty() {
        ExitCode::from(EXIT_FAIL_ON)
    } else {
        ExitCode::SUCCESS
    }
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
    // A fresh key per run: the tables' keys must not be guessable from the capture (crate::hash_key).
    let key = crate::os_random::os_random_hash_key().context("reading a random key for the tracker's tables")?;
    Ok(Some(Tracker::new(config, key)))
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
