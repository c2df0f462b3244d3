//! `synscope read`: capture files → file source thread → bounded channel → engine (DESIGN.md data flow). Reading
//! is lossless: the source blocks when the engine is busy.

use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::Context;

use super::pipeline;
use crate::capture::Precision;
use crate::capture::output_file::OutputFile;
use crate::capture::source::{FileSource, SourceEvent};
use crate::cli::ReadArgs;
use crate::engine::Flow;
use crate::output::progress::Progress;

pub fn run(args: &ReadArgs) -> anyhow::Result<ExitCode> {
    let (files, expression) = args.files_and_filter()?;
    let mut engine = pipeline::engine(&expression, &args.output, &args.track)?;
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();

    let source = FileSource::spawn(files).context("starting the file reader thread")?;
    let progress = Progress::for_files(total_bytes);
    'events: for event in source.events.iter() {
        match event {
            SourceEvent::FileStarted { precision, .. } => {
                if let (None, Some(path)) = (&engine.writer, &args.output.write) {
                    let precision = if args.output.nano { Precision::Nano } else { precision };
                    engine.writer = Some(OutputFile::create(path, precision)?);
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
    if let (None, Some(path)) = (&engine.writer, &args.output.write) {
        // No file could be opened: still leave a valid, empty capture file, as tcpdump -w does.
        engine.writer = Some(OutputFile::create(path, Precision::Micro)?);
    }
    engine.finish()?;
    Ok(pipeline::report(&engine))
}
