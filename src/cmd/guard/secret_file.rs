//! `guard --secret-file PATH`: the cookie key kept in a file, so that a restarted guard validates the cookies its
//! previous run issued.
//!
//! **Format** (version 1): two lines of text,
//!
//! ```text
//! synscope-cookie-secret v1
//! <64 hex digits: the 32-byte key>
//! ```
//!
//! Text rather than 32 raw bytes: the first line says what the file is, and which version, so a file of another
//! kind (or a later format, holding a previous key beside the current one after a rotation, say) is refused with
//! a line saying so instead of being taken as a key; and the key can be made by hand for a pair of guards that
//! must share it (`printf 'synscope-cookie-secret v1\n%s\n' "$(openssl rand -hex 32)"`). Hex digits in either case,
//! lines ending in LF or CR LF, the final newline optional, nothing else; a key of all zeros is refused (it is not
//! a secret).
//!
//! **Rules**, checked on the open file (`fstat`), so nothing can change between the check and the read:
//!
//! - it must be a regular file (a symbolic link is followed, as ssh does for keys; the file it reaches is checked);
//! - neither group nor others may read or write it (any of mode 077), as ssh requires of private keys;
//! - its owner must be the user running the guard or root, as ssh requires: a file another user owns could be
//!   replaced by that user with a key they know, and a known key lets anyone forge cookies;
//! - at most 4,096 bytes are read, and the contents must be the format above.
//!
//! **Missing:** a fresh key from the kernel's random generator ([`crate::os_random`]) is written to a temporary file
//! made in the same directory with `O_EXCL` and mode 0600 (set with `fchmod` too, whatever the umask), synced, then
//! hard-linked to `PATH`. The link fails if `PATH` appeared meanwhile, so two guards started together cannot
//! overwrite each other's key: the loser reads the winner's. At no moment is the file at `PATH` partial, or
//! readable by others.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The first line of a version 1 file.
pub const HEADER: &str = "synscope-cookie-secret v1";

/// More than any valid file: the header, the key and two newlines.
const MAX_BYTES: u64 = 4096;

/// Where the key came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The file was there, and its key was read.
    Read,
    /// The file was missing, and was created with a fresh key.
    Created,
}

/// The key in `path`, or a fresh one written there if the file does not exist. Every error is one line naming the
/// file, what is wrong and what to do.
pub fn load_or_create(path: &Path) -> anyhow::Result<([u8; 32], Origin)> {
    // A process euid, for the owner rule. SAFETY: geteuid(2) reads a process attribute and cannot fail.
    let euid = unsafe { libc::geteuid() };
    match read(path, euid) {
        Ok(key) => return Ok((key, Origin::Read)),
        Err(ReadError::Missing) => {}
        Err(ReadError::Refused(why)) => anyhow::bail!("--secret-file {}: {why}", path.display()),
    }
    let key = crate::os_random::os_random_key()
        .map_err(|e| anyhow::anyhow!("--secret-file {}: cannot draw a random key: {e}", path.display()))?;
    match create(path, &key) {
        Ok(true) => Ok((key, Origin::Created)),
        // Another process created it first: its key is the one to use.
        Ok(false) => match read(path, euid) {
            Ok(key) => Ok((key, Origin::Read)),
            Err(ReadError::Missing) => {
                anyhow::bail!(
                    "--secret-file {}: it appeared and vanished while being created; try again",
                    path.display()
                )
            }
            Err(ReadError::Refused(why)) => anyhow::bail!("--secret-file {}: {why}", path.display()),
        },
        Err(why) => anyhow::bail!("--secret-file {}: {why}", path.display()),
    }
}

/// The text of a version 1 file holding `key`.
pub fn encode(key: &[u8; 32]) -> String {
    let mut text = String::with_capacity(HEADER.len() + 66);
    text.push_str(HEADER);
    text.push('\n');
    for byte in key {
        text.push_str(&format!("{byte:02x}"));
    }
    text.push('\n');
    text
}

/// The key in a version 1 file's text, or why it is not one (the reason never quotes the key).
pub fn decode(text: &[u8]) -> Result<[u8; 32], String> {
    let fix = "move it away (the guard then creates a new one), or see `synscope guard --help` for the format";
    if text.is_empty() {
        return Err(format!("the file is empty; {fix}"));
    }
    let Ok(text) = std::str::from_utf8(text) else {
        return Err(format!("not a synscope cookie secret (it is not text; the first line must be `{HEADER}`); {fix}"));
    };
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut lines = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line));
    let header = lines.next().unwrap_or_default();
    if header != HEADER {
        let other_version = header.starts_with("synscope-cookie-secret ");
        return Err(if other_version {
            format!("a format this synscope does not read (`{header}`; it reads `{HEADER}`)")
        } else {
            format!("not a synscope cookie secret (the first line must be `{HEADER}`); {fix}")
        });
    }
    let Some(hex) = lines.next() else {
        return Err(format!("the key is missing (the second line must be 64 hex digits); {fix}"));
    };
    if lines.next().is_some() {
        return Err(format!("more than two lines (the header, then the key in 64 hex digits); {fix}"));
    }
    if hex.len() != 64 {
        let length = hex.chars().count();
        return Err(format!(
            "the key must be 64 hex digits (32 bytes) on the second line, not {length} characters; {fix}"
        ));
    }
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("the key on the second line has characters that are not hex digits; {fix}"));
    }
    let mut key = [0u8; 32];
    for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let digits = std::str::from_utf8(pair).map_err(|_| "the key is not hex".to_string())?;
        *byte = u8::from_str_radix(digits, 16).map_err(|_| "the key is not hex".to_string())?;
    }
    if key == [0u8; 32] {
        return Err(format!("the key is all zeros, which is no secret; {fix}"));
    }
    Ok(key)
}

enum ReadError {
    Missing,
    /// One line: what is wrong and what to do.
    Refused(String),
}

/// Opens, checks and decodes the file.
fn read(path: &Path, euid: u32) -> Result<[u8; 32], ReadError> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below as not a regular file).
    let file = match std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A dangling symbolic link is not a missing file: creating one would write wherever it points.
            return match std::fs::symlink_metadata(path) {
                Ok(_) => Err(ReadError::Refused(
                    "a symbolic link to nothing; point it at the secret file, or remove it".to_string(),
                )),
                Err(_) => Err(ReadError::Missing),
            };
        }
        Err(e) => return Err(ReadError::Refused(format!("cannot open it: {}", io_reason(&e)))),
    };
    let meta = file.metadata().map_err(|e| ReadError::Refused(format!("cannot stat it: {}", io_reason(&e))))?;
    check_metadata(path, &meta, euid).map_err(ReadError::Refused)?;
    let mut text = Vec::with_capacity(128);
    (&file)
        .take(MAX_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| ReadError::Refused(format!("cannot read it: {}", io_reason(&e))))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(ReadError::Refused(format!(
            "{} bytes, too long for a cookie secret (a valid one is {} bytes); is it the right file?",
            meta.len(),
            encode(&[1; 32]).len()
        )));
    }
    decode(&text).map_err(ReadError::Refused)
}

/// The rules on the open file: a regular file, no access for group or others, owned by `euid` or root.
fn check_metadata(path: &Path, meta: &std::fs::Metadata, euid: u32) -> Result<(), String> {
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() { "a directory" } else { "not a regular file (a device, FIFO or socket)" };
        return Err(format!("{what}; give the path of a regular file (the guard creates it if it is missing)"));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "mode {mode:04o} lets group or others read or write the cookie secret; run `chmod 600 {}`",
            path.display()
        ));
    }
    let owner = meta.uid();
    if owner != euid && owner != 0 {
        return Err(format!(
            "owned by uid {owner}, not by the user running the guard (uid {euid}) or root, who could replace the \
             key; run `chown {euid} {}`",
            path.display()
        ));
    }
    Ok(())
}

/// Writes `key` to a new file at `path`, atomically and never readable by others. `Ok(false)`: `path` appeared
/// meanwhile, and was left alone.
fn create(path: &Path, key: &[u8; 32]) -> Result<bool, String> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| "not a file name; give the path of a file".to_string())?;
    // Unique enough with O_EXCL behind it; nothing of the key goes into the name.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let temp = Temp(dir.join(format!(".{}.{}.{nanos:09}.tmp", name.to_string_lossy(), std::process::id())));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&temp.0)
        .map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::NotFound { " (create the directory first)" } else { "" };
            format!("cannot create it in {}: {}{hint}", dir.display(), io_reason(&e))
        })?;
    let write = |file: &mut File| -> io::Result<()> {
        // The umask may have taken more than group and others' bits; the owner must keep read and write.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(encode(key).as_bytes())?;
        file.sync_all()
    };
    write(&mut file).map_err(|e| format!("cannot write {}: {}", temp.0.display(), io_reason(&e)))?;
    drop(file);
    match std::fs::hard_link(&temp.0, path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(format!("cannot link the new key into place: {}", io_reason(&e))),
    }
    drop(temp);
    // The new name is durable once its directory is; a failure here loses nothing that is not on disk already.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(true)
}

/// A temporary file removed when dropped, whether creation succeeded (the link holds the data) or not.
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An I/O error's reason without Rust's "(os error N)" suffix.
fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn euid() -> u32 {
        // SAFETY: geteuid(2) reads a process attribute and cannot fail.
        unsafe { libc::geteuid() }
    }

    fn write_with_mode(path: &Path, text: &[u8], mode: u32) {
        // Removed first: a read-only file of an earlier round cannot be written over by a user other than root.
        let _ = std::fs::remove_file(path);
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn error_of(path: &Path) -> String {
        format!("{:#}", load_or_create(path).expect_err("refused"))
    }

    #[test]
    fn a_missing_file_is_created_0600_with_a_fresh_key_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let (key, origin) = load_or_create(&path).unwrap();
        assert_eq!(origin, Origin::Created);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        assert_eq!(meta.uid(), euid());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), encode(&key));
        // No temporary file is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let (again, origin) = load_or_create(&path).unwrap();
        assert_eq!((again, origin), (key, Origin::Read));
        // Another file gets another key.
        let (other, _) = load_or_create(&dir.path().join("other")).unwrap();
        assert_ne!(other, key);
    }

    #[test]
    fn a_hand_written_key_is_read_in_either_case_and_with_any_line_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let hex = "00112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100";
        for text in [format!("{HEADER}\n{hex}"), format!("{HEADER}\n{hex}\n"), format!("{HEADER}\r\n{hex}\r\n")] {
            write_with_mode(&path, text.as_bytes(), 0o400);
            let (key, origin) = load_or_create(&path).unwrap();
            assert_eq!(origin, Origin::Read);
            assert_eq!(key[..4], [0x00, 0x11, 0x22, 0x33]);
            assert_eq!(key[16..20], [0xff, 0xee, 0xdd, 0xcc]);
        }
    }

    #[test]
    fn group_or_other_access_is_refused_with_the_chmod_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let text = encode(&[7; 32]);
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660] {
            write_with_mode(&path, text.as_bytes(), mode);
            let err = error_of(&path);
            assert!(err.contains(&format!("mode {mode:04o}")), "{err}");
            assert!(err.contains(&format!("chmod 600 {}", path.display())), "{err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
        write_with_mode(&path, text.as_bytes(), 0o600);
        assert_eq!(load_or_create(&path).unwrap(), ([7; 32], Origin::Read));
    }

    #[test]
    fn a_wrong_length_or_format_is_refused_and_the_file_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let good = encode(&[9; 32]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (Vec::new(), "empty"),
            (vec![0xab; 32], "not text"),
            (b"some other file\n".to_vec(), "first line must be"),
            (format!("{HEADER}\n").into_bytes(), "64 hex digits"),
            (format!("{HEADER}\n{}\n", "ab".repeat(31)).into_bytes(), "not 62 characters"),
            (format!("{HEADER}\n{}\n", "ab".repeat(33)).into_bytes(), "not 66 characters"),
            (format!("{HEADER}\n{}zz\n", "ab".repeat(31)).into_bytes(), "not hex digits"),
            (format!("{HEADER}\n{} \n", "ab".repeat(32)).into_bytes(), "not 65 characters"),
            (format!("{good}extra\n").into_bytes(), "more than two lines"),
            (format!("synscope-cookie-secret v2\n{}\n", "ab".repeat(32)).into_bytes(), "does not read"),
            (format!("{HEADER}\n{}\n", "00".repeat(32)).into_bytes(), "all zeros"),
            (vec![b'a'; 5000], "too long"),
        ];
        for (text, expected) in cases {
            write_with_mode(&path, &text, 0o600);
            let err = error_of(&path);
            assert!(err.contains(expected), "{expected:?} not in {err}");
            assert!(err.starts_with(&format!("--secret-file {}: ", path.display())), "{err}");
            assert!(!err.contains('\n'), "one line: {err}");
            assert_eq!(std::fs::read(&path).unwrap(), text, "a refused file is not touched");
        }
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(error_of(dir.path()).contains("a directory"));
        assert!(error_of(Path::new("/dev/null")).contains("not a regular file"));
        // A FIFO is refused without waiting for a writer.
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        assert!(error_of(&fifo).contains("not a regular file"));
        // A symbolic link to nothing is not created through.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(error_of(&dangling).contains("symbolic link to nothing"));
        assert!(!dir.path().join("nowhere").exists());
        // A link to a good file is followed, and the file it reaches is what is checked.
        let real = dir.path().join("real");
        write_with_mode(&real, encode(&[3; 32]).as_bytes(), 0o600);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(load_or_create(&link).unwrap(), ([3; 32], Origin::Read));
    }

    #[test]
    fn a_missing_directory_is_one_clear_line() {
        let dir = tempfile::tempdir().unwrap();
        let err = error_of(&dir.path().join("no/such/dir/secret"));
        assert!(err.contains("create the directory first"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn a_file_owned_by_another_user_is_refused() {
        // Only root can give a file away; elsewhere the rule is checked on the metadata of a file of ours with an
        // euid that is not its owner's.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_with_mode(&path, encode(&[5; 32]).as_bytes(), 0o600);
        let meta = std::fs::metadata(&path).unwrap();
        let owner = meta.uid();
        if owner == 0 {
            // Root owns it: the guard accepts root's files whoever runs it, so give it to nobody.
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            let err = error_of(&path);
            assert!(err.contains("owned by uid 65534"), "{err}");
            assert!(err.contains(&format!("chown 0 {}", path.display())), "{err}");
        } else {
            let err = check_metadata(&path, &meta, owner + 1).unwrap_err();
            assert!(err.contains(&format!("owned by uid {owner}")), "{err}");
            check_metadata(&path, &meta, owner).unwrap();
        }
    }

    #[test]
    fn encode_and_decode_round_trip() {
        for key in [[1u8; 32], core::array::from_fn(|i| i as u8 * 7 + 1), [0xff; 32]] {
            let text = encode(&key);
            assert_eq!(text.len(), HEADER.len() + 1 + 64 + 1);
            assert_eq!(decode(text.as_bytes()), Ok(key));
        }
    }
}
