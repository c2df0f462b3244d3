//! Hostile input is normal input: random and mutated bytes never make the decoder or the file reader panic.

use proptest::prelude::*;
use synscope::capture::CaptureReader;
use synscope::wire::{LinkType, decode};

/// Every link type the decoder knows.
const LINK_TYPES: [LinkType; LinkType::ALL.len()] = LinkType::ALL;

fn read_all(bytes: &[u8]) -> usize {
    let Ok(mut reader) = CaptureReader::new("fuzz", bytes) else { return 0 };
    let mut frames = 0;
    while let Ok(Some(frame)) = reader.next_frame() {
        let packet = decode(frame.link_type, frame.data);
        let _ = format!("{packet:?}");
        frames += 1;
    }
    frames
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures").join(name)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn decoding_random_bytes_never_panics(link in 0usize..LINK_TYPES.len(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let packet = decode(LINK_TYPES[link], &bytes);
        // Whatever came out, its layers are consistent with the input length.
        if let Some(tcp) = packet.tcp() {
            prop_assert!(tcp.payload.len() <= bytes.len());
        }
    }

    #[test]
    fn decoding_mutated_real_frames_never_panics(flips in proptest::collection::vec((0usize..80, any::<u8>()), 1..6), cut in 0usize..90) {
        // A real SYN with options, damaged in a few places and cut short.
        let frame = &sample("seed-session.pcap")[24 + 16..24 + 16 + 74];
        let mut bytes = frame.to_vec();
        for (at, value) in flips {
            if at < bytes.len() { bytes[at] = value; }
        }
        bytes.truncate(cut);
        let packet = decode(LinkType::Ethernet, &bytes);
        let _ = format!("{packet:?}");
    }

    #[test]
    fn reading_random_files_never_panics(magic in 0usize..4, bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let prefix: &[u8] = [&b""[..], b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a"][magic];
        let mut file = prefix.to_vec();
        file.extend_from_slice(&bytes);
        read_all(&file);
    }

    #[test]
    fn reading_mutated_captures_never_panics(which in 0usize..3, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let name = ["seed-session.pcap", "multi-interface.pcapng", "odd-frames.pcap"][which];
        let mut bytes = sample(name);
        for (at, value) in flips {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        let keep = cut % (bytes.len() + 1);
        bytes.truncate(keep);
        read_all(&bytes);
    }
}

#[test]
fn undamaged_samples_read_completely() {
    assert_eq!(read_all(&sample("seed-session.pcap")), 19);
    assert_eq!(read_all(&sample("multi-interface.pcapng")), 9);
}
