//! Child processes in tests: each sits in a [`Running`] guard that kills and reaps it on drop, so nothing is left
//! running whether a test passes or fails. Readiness is polled on the port itself or on a line of output.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a child may take to start listening, or to print a line we wait for.
pub const READY: Duration = Duration::from_secs(10);

/// A child process that is killed and reaped when dropped; its stdout and stderr are collected as they come.
pub struct Running {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Running {
        let mut child =
            command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawning");
        let (out, err) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(String::new())));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), Arc::clone(&out)),
            collect(child.stderr.take().expect("stderr"), Arc::clone(&err)),
        ];
        Running { child, out, err, readers }
    }

    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Panics with the child's output when it has already exited (it will never become ready).
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("child exited early ({status}); stdout: {} stderr: {}", self.stdout(), self.stderr());
        }
    }

    /// Waits until stdout contains `text`, bounded by [`READY`].
    pub fn wait_for_stdout(&mut self, text: &str) {
        let deadline = Instant::now() + READY;
        while !self.stdout().contains(text) {
            assert!(Instant::now() < deadline, "no '{text}' in stdout: {} (stderr: {})", self.stdout(), self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until stderr contains `text`, bounded by [`READY`] (tcpdump says "listening on" there once its socket
    /// is open).
    pub fn wait_for_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + READY;
        while !self.stderr().contains(text) {
            self.assert_alive();
            assert!(Instant::now() < deadline, "no '{text}' in stderr: {} (stdout: {})", self.stderr(), self.stdout());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns the exit code and the full stderr.
    pub fn terminate(mut self) -> (Option<i32>, String, String) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + READY;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "listener did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (status.code(), self.stdout(), self.stderr())
    }

    /// Waits (bounded by `limit`) for the child to exit by itself; returns the exit code, stdout and stderr.
    pub fn wait_exit(mut self, limit: Duration) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "child still running after {limit:?}; stderr: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (status.code(), self.stdout(), self.stderr())
    }

    /// SIGKILL: the child gets no chance to clean up (what a crash or the OOM killer does).
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn collect(mut pipe: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
}

/// A port free for both TCP and UDP on 127.0.0.1 (the kernel picks it; we release it just before use).
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind port 0");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

pub fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// Polls until a TCP connect to `port` succeeds, bounded by [`READY`].
pub fn wait_tcp(child: &mut Running, port: u16) {
    let target: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
    let deadline = Instant::now() + READY;
    loop {
        child.assert_alive();
        if TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "nothing listens on tcp {port}; stderr: {}", child.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls until a datagram to `port` is answered, bounded by [`READY`].
pub fn wait_udp(child: &mut Running, port: u16) {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    socket.connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let deadline = Instant::now() + READY;
    let mut buf = [0u8; 64];
    loop {
        child.assert_alive();
        if socket.send(b"ready?").is_ok() && socket.recv(&mut buf).is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "nothing answers on udp {port}; stderr: {}", child.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn listen(args: &[&str]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_synscope"));
    command.arg("listen").args(args);
    Running::spawn(command)
}

pub fn listen_tcp(port: u16, extra: &[&str]) -> Running {
    let a = addr(port);
    let mut args = vec!["--tcp", a.as_str()];
    args.extend_from_slice(extra);
    let mut child = listen(&args);
    wait_tcp(&mut child, port);
    child
}
