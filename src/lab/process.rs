//! Processes the lab runs inside its namespaces (listener, guard, flood, prober, sniffer). Each one's output goes
//! to a file in the run's work directory, and a [`Process`] is killed when dropped, so an error or Ctrl-C half-way
//! through a trial leaves nothing running.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct Process {
    name: String,
    child: Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Process {
    /// Starts `args` inside `netns` (with `ip netns exec`, which execs in place: the pid is the program's own).
    /// Nothing is pinned to a CPU: the lab runs where the scheduler puts it, as a user's machine would (the XDP fast
    /// path is what keeps the guard's answers off the CPUs it shares with everything else).
    pub fn spawn(netns: &str, args: &[&str], work: &Path, name: &str) -> anyhow::Result<Process> {
        let stdout = work.join(format!("{name}.out"));
        let stderr = work.join(format!("{name}.err"));
        let mut command = Command::new("ip");
        let child = command
            .args(["netns", "exec", netns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).with_context(|| format!("creating {}", stdout.display()))?)
            .stderr(File::create(&stderr).with_context(|| format!("creating {}", stderr.display()))?)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Process { name: name.to_string(), child, stdout, stderr })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `text` shows in the process's stdout or stderr, bounded by `limit`.
    pub fn wait_for(&mut self, text: &str, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
            let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            if out.contains(text) || err.contains(text) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}) before it was ready: {}", self.name, err.trim());
            }
            if Instant::now() >= deadline {
                bail!("{} did not get ready within {limit:?}: {}", self.name, err.trim());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to end by itself, bounded by `limit`; kills it past that.
    pub fn wait(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                bail!("{} did not finish within {limit:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks the process to stop (SIGTERM, as Ctrl-C would) and waits for it, bounded.
    pub fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        self.wait(Duration::from_secs(10))
    }

    pub fn read_stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn read_stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// CPU seconds (user + system) the process has used so far, from /proc/PID/stat (proc(5): fields 14 and 15,
    /// in clock ticks).
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // The command name may hold spaces; the fields after it are fixed.
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        // SAFETY: sysconf(3) reads a constant.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (per_second > 0).then(|| ticks / per_second as f64)
    }
}

/// CPU seconds all CPUs have spent in softirq since boot (/proc/stat's `cpu` line, field 7, in clock ticks). The
/// XDP fast path and the kernel's own SYN cookies do their work there, where no process's CPU time shows it.
pub fn softirq_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: f64 = line.split_whitespace().nth(7)?.parse().ok()?;
    // SAFETY: sysconf(3) reads a constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks / per_second as f64)
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
