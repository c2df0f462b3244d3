//! Entering a named network namespace from inside this process.
//!
//! `ip netns add NAME` bind-mounts a new namespace on `/run/netns/NAME` (ip-netns(8)). We open that file and call
//! setns(2) with it on a fresh thread: setns changes the namespace of the calling *thread* only, and for
//! CLONE_NEWNET it is allowed in a multi-threaded process (only user and mount namespaces require a single thread).
//! The thread runs one closure and ends, so no thread is ever left in a foreign namespace and nothing has to be
//! switched back. This is what `ip netns exec` does, minus the process.
//!
//! Identity follows namespaces(7): two namespace files are the same namespace when their device and inode numbers
//! match, so a name bind-mounted on the initial namespace (`ip netns attach NAME 1`) is recognised and refused by
//! [`Namespace::refuse_initial`].

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::NetnsError;

/// Where `ip netns` keeps its named namespaces (ip-netns(8), NETNS_RUN_DIR).
pub const NETNS_DIR: &str = "/run/netns";

/// A named network namespace, held open: the descriptor pins it, so the name may be deleted meanwhile without our
/// entering some other namespace that took its place.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    file: File,
    id: (u64, u64),
}

impl Namespace {
    /// Opens `/run/netns/NAME`. An unknown name lists the namespaces that exist.
    pub fn open(name: &str) -> Result<Namespace, NetnsError> {
        check_name(name)?;
        let path = Path::new(NETNS_DIR).join(name);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let existing = list().map_err(|err| NetnsError::io(format!("listing {NETNS_DIR}"), err))?;
                return Err(NetnsError::Unknown { name: name.into(), existing });
            }
            Err(err) => return Err(NetnsError::io(format!("opening {}", path.display()), err)),
        };
        let meta = file.metadata().map_err(|err| NetnsError::io(format!("reading {}", path.display()), err))?;
        Ok(Namespace { name: name.into(), file, id: (meta.dev(), meta.ino()) })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the initial network namespace (the host's own, where the real interfaces live).
    pub fn is_initial(&self) -> io::Result<bool> {
        Ok(self.id == crate::safety::initial_netns_id()?)
    }

    /// The project rule before any sysctl is written: never the initial namespace, and not knowing refuses.
    pub fn refuse_initial(&self) -> Result<(), NetnsError> {
        match self.is_initial() {
            Ok(false) => Ok(()),
            Ok(true) => Err(NetnsError::Initial { name: self.name.clone() }),
            Err(err) => Err(NetnsError::Undecided { name: self.name.clone(), cause: err.to_string() }),
        }
    }

    /// Runs `work` on a short-lived thread inside this namespace and returns its result.
    ///
    /// Inside `work`, `/proc/sys/net/...` is the namespace's own: the kernel resolves those entries by the netns of
    /// the task that opens them (`net_ctl_header_lookup` takes `current->nsproxy->net_ns`). `/proc/self/net`, though,
    /// shows the namespace of the thread-group *leader*, which stays in ours; use `/proc/thread-self/net` there.
    pub fn run<T, F>(&self, work: F) -> Result<T, NetnsError>
    where
        F: FnOnce() -> Result<T, NetnsError> + Send,
        T: Send,
    {
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name(format!("netns-{}", self.name))
                .spawn_scoped(scope, || {
                    self.join_this_thread()?;
                    work()
                })
                .map_err(|err| NetnsError::io(format!("starting a thread to enter '{}'", self.name), err))?;
            worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn join_this_thread(&self) -> Result<(), NetnsError> {
        // SAFETY: setns(2) reads a descriptor that `self.file` keeps open for the whole call, and changes the
        // namespace of the calling thread only; no memory is touched.
        if unsafe { libc::setns(self.file.as_raw_fd(), libc::CLONE_NEWNET) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EINVAL) {
            // The file is not a network namespace: a plain file left in /run/netns by a failed `ip netns add`.
            return Err(NetnsError::NotANamespace { name: self.name.clone() });
        }
        Err(NetnsError::io(format!("entering network namespace '{}'", self.name), err))
    }
}

/// Accepts a name as `ip netns` gives it: one path component, so `--netns ../../proc/1/ns/net` cannot reach
/// a namespace outside `/run/netns`.
pub fn check_name(name: &str) -> Result<(), NetnsError> {
    let bad = name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) || name.len() > 255;
    if bad { Err(NetnsError::BadName { name: name.into() }) } else { Ok(()) }
}

/// The named namespaces, sorted; none when `/run/netns` does not exist (no `ip netns add` since boot).
pub fn list() -> io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(NETNS_DIR) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut names = Vec::new();
    for entry in entries {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    mod names {
        use super::*;

        #[test]
        fn plain_names_are_accepted() {
            for name in ["lab", "lab-server", "synscope_1", "a.b"] {
                assert!(check_name(name).is_ok(), "{name}");
            }
        }

        #[test]
        fn paths_and_dots_are_refused() {
            for name in ["", ".", "..", "../../proc/1/ns/net", "a/b", "/run/netns/x", "a\0b"] {
                let err = check_name(name).unwrap_err();
                assert!(err.is_usage(), "{name}");
            }
            assert!(check_name(&"x".repeat(256)).is_err());
        }
    }

    mod opening {
        use super::*;

        #[test]
        fn an_unknown_name_lists_what_exists() {
            let err = Namespace::open("synscope-surely-not-a-namespace").unwrap_err();
            match &err {
                NetnsError::Unknown { existing, .. } => assert_eq!(existing, &list().unwrap()),
                other => panic!("expected Unknown, got {other:?}"),
            }
        }
    }
}
