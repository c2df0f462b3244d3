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
    pub fn spawn(netns: &str, args: &[&str], work: &Path, name: &str) -> anyhow::Result<Process> {
        Process::spawn_on(netns, args, work, name, &[])
    }

    /// As [`Process::spawn`], pinned to the CPUs given, if any (sched_setaffinity(2) in the child before it
    /// execs). The lab keeps the flood and the defence on different CPUs, so the attacker cannot win by simply
    /// taking the defender's processor, which on a small machine says more about the scheduler than the defence.
    pub fn spawn_on(netns: &str, args: &[&str], work: &Path, name: &str, cpus: &[usize]) -> anyhow::Result<Process> {
        use std::os::unix::process::CommandExt;
        let stdout = work.join(format!("{name}.out"));
        let stderr = work.join(format!("{name}.err"));
        let mut command = Command::new("ip");
        if !cpus.is_empty() {
            // SAFETY: the set is built here, before the fork; the closure only calls async-signal-safe
            // sched_setaffinity with it.
            let set = unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                for &cpu in cpus {
                    libc::CPU_SET(cpu, &mut set);
                }
                set
            };
            // SAFETY: as above.
            unsafe {
                command.pre_exec(move || {
                    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
                    Ok(())
                });
            }
        }
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

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pins the calling thread, and so every thread and process it starts afterwards, to `cpus` (nothing when empty);
/// dropping the returned value puts the thread's former CPUs back.
pub fn pin_this_thread(cpus: &[usize]) -> PinnedThread {
    // SAFETY: sched_getaffinity/sched_setaffinity on the calling thread (pid 0) with sets on this stack.
    unsafe {
        let mut before: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if cpus.is_empty() || libc::sched_getaffinity(0, size, &mut before) != 0 {
            return PinnedThread { before: None };
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, size, &set);
        PinnedThread { before: Some(before) }
    }
}

pub struct PinnedThread {
    before: Option<libc::cpu_set_t>,
}

impl Drop for PinnedThread {
    fn drop(&mut self) {
        if let Some(before) = &self.before {
            // SAFETY: restores the set read from this same thread.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), before) };
        }
    }
}
