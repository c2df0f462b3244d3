//! `synscope sniff`: live capture. Capture threads (one per interface) → bounded channel → engine, the same engine
//! `read` uses, so output, tracking, `-w`, `--conn-log` and `--fail-on` behave identically on a file and live.
//! The engine thread also owns the stop: Ctrl-C, SIGTERM, `--duration` or `-c`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::RecvTimeoutError;
use signal_hook::consts::{SIGINT, SIGTERM};

use super::pipeline;
use crate::capture::Precision;
use crate::capture::interfaces;
use crate::capture::live::{LiveConfig, LiveEvent, LiveSource, Target};
use crate::capture::output_file::OutputFile;
use crate::cli::SniffArgs;
use crate::engine::{Engine, Flow};
use crate::output::summary::live_line;

/// How long the engine waits for frames before flushing output and checking for a stop.
const IDLE: Duration = Duration::from_millis(100);

pub fn run(args: &SniffArgs) -> anyhow::Result<ExitCode> {
    if args.list_interfaces {
        print!("{}", interfaces::describe(&interfaces::all()));
        return Ok(ExitCode::SUCCESS);
    }
    let targets = targets(&args.interfaces)?;
    let mut engine = pipeline::engine(&args.filter.join(" "), &args.output, &args.track)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the Ctrl-C handler")?;
    }
    let config = LiveConfig {
        snaplen: args.snaplen,
        promiscuous: args.promisc,
        buffer_bytes: args.buffer_size as usize * (1 << 20),
    };
    let mut source = LiveSource::open(&targets, config)?;
    if let Some(path) = &args.output.write {
        // The header goes to disk now: the file is a valid (empty) pcap from the first moment.
        let precision = if args.output.nano { Precision::Nano } else { Precision::Micro };
        let mut writer = OutputFile::create(path, precision)?;
        writer.start(source.captures[0].link_type)?;
        writer.flush()?;
        engine.writer = Some(writer);
    }
    let names: Vec<&str> = source.captures.iter().map(|c| c.interface.as_str()).collect();
    eprintln!(
        "synscope: listening on {}, link-type {}, snapshot length {} bytes",
        names.join(", "),
        source.captures[0].link_type.dlt_description(),
        args.snaplen
    );
    let deadline = args.duration.map(|d| Instant::now() + Duration::from_nanos(d.as_nanos()));
    let reporting = Arc::new(AtomicBool::new(true));
    let reporter = spawn_drop_reporter(&source, args.stats_interval, Arc::clone(&reporting))?;
    let captured = capture_loop(&mut engine, &mut source, &stop, deadline);
    reporting.store(false, Ordering::Relaxed);
    let _ = reporter.join();
    captured?;
    source.stop();
    engine.summary.live = source.stats();
    engine.finish()?;
    Ok(pipeline::report(&engine))
}

/// Resolves `-i` names (each once) to interfaces, or fails with the list of those that exist.
fn targets(names: &[String]) -> anyhow::Result<Vec<Target>> {
    let mut targets: Vec<Target> = Vec::new();
    for name in names {
        if targets.iter().any(|t| &t.name == name) {
            continue;
        }
        let interface = interfaces::find(name)?;
        targets.push(Target {
            name: interface.name.clone(),
            index: interface.index,
            loopback: interface.is_loopback(),
        });
    }
    Ok(targets)
}

/// Feeds the engine until the capture threads hang up after a stop. Frames captured before the stop are all
/// processed; after `-c` is reached the rest are ignored.
fn capture_loop(
    engine: &mut Engine<'_>,
    source: &mut LiveSource,
    stop: &AtomicBool,
    deadline: Option<Instant>,
) -> anyhow::Result<()> {
    let mut stopping = false;
    let mut limit_reached = false;
    loop {
        if !stopping && (stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d)) {
            source.request_stop();
            stopping = true;
        }
        match source.events.recv_timeout(IDLE) {
            Ok(LiveEvent::Frames(batch)) => {
                if !limit_reached {
                    for frame in batch.iter() {
                        if engine.frame(&frame)? == Flow::Done {
                            limit_reached = true;
                            break;
                        }
                    }
                }
                let _ = source.recycle.try_send(batch);
                if limit_reached && !stopping {
                    source.request_stop();
                    stopping = true;
                }
                if source.events.is_empty() {
                    engine.flush_all()?;
                }
            }
            Ok(LiveEvent::Tick(now)) => {
                if !limit_reached {
                    engine.advance(now)?;
                }
                engine.flush_all()?;
            }
            Ok(LiveEvent::Failed { interface, error }) => {
                engine.flush_all()?;
                eprintln!("synscope: capture on {interface} stopped: {error}");
                engine.summary.capture_errors += 1;
            }
            Err(RecvTimeoutError::Timeout) => engine.flush_all()?,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

/// `--stats-interval`: one line per interface on stderr while frames are being dropped. It runs on a thread of its
/// own, because drops happen when the engine is behind: a report from the engine's loop would be late exactly when
/// it matters, or never come if output is blocked.
fn spawn_drop_reporter(
    source: &LiveSource,
    interval: crate::time::Duration,
    running: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let interval = Duration::from_nanos(interval.as_nanos()).max(Duration::from_millis(100));
    let captures: Vec<_> = source.captures.iter().map(|c| (c.interface.clone(), Arc::clone(&c.counters))).collect();
    let thread = std::thread::Builder::new().name("drop-reporter".into()).spawn(move || {
        let mut next = Instant::now() + interval;
        while running.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            if Instant::now() < next {
                continue;
            }
            next += interval;
            let mut stderr = std::io::stderr().lock();
            for (interface, counters) in &captures {
                let stats = counters.snapshot(interface);
                // Once frames have been lost, every interval says so: the counts only grow.
                if stats.dropped() > 0 {
                    let _ = writeln!(stderr, "synscope: {}", live_line(&stats));
                }
            }
        }
    })?;
    Ok(thread)
}
