//! Secrets from the kernel's random generator: the edge that gives the guard its cookie keys and the tracker its
//! tables' hash key. The core (`defense::cookie`, `track`) stays pure and takes its keys as arguments; tests build
//! them from explicit keys.

use std::io::{self, Read};

/// 32 fresh random bytes: a key for [`crate::defense::cookie::CookieCodec::new`] or `rotate`.
///
/// Uses getrandom(2), which blocks only until the kernel's pool is initialised at boot, so a guard started early
/// never gets a guessable key; on kernels older than 3.17 (ENOSYS) it falls back to `/dev/urandom`.
pub fn os_random_key() -> io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    let mut filled = 0;
    while filled < key.len() {
        let rest = &mut key[filled..];
        // SAFETY: the pointer and length describe `rest`, a live, writable byte slice.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOSYS) => return urandom_key(),
                _ => return Err(err),
            }
        }
        filled += n as usize;
    }
    Ok(key)
}

/// A fresh key for the tables whose keys an attacker chooses ([`crate::hash_key`]).
pub fn os_random_hash_key() -> io::Result<crate::hash_key::HashKey> {
    let key = os_random_key()?;
    let mut half = [0u8; 16];
    half.copy_from_slice(&key[..16]);
    Ok(crate::hash_key::HashKey::from_bytes(half))
}

fn urandom_key() -> io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_each_time() {
        assert_ne!(os_random_key().unwrap(), os_random_key().unwrap());
    }
}
