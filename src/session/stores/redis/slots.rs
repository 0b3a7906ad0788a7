//! Redis Cluster's key slots: the slot of a key (CRC16 of its hash tag, modulo 16384) and the
//! hash tag of each slot's epoch key, so that a single-slot pipeline can read the epoch of the
//! slot it touches.

use std::sync::OnceLock;

/// How many slots a Redis Cluster has.
pub(super) const SLOTS: u16 = 16384;

/// CRC16-CCITT (XMODEM), as Redis Cluster hashes keys.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of `key`: the CRC16 of its hash tag (the part between the first `{` and the next
/// `}`, when not empty), or of the whole key.
pub(super) fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = match bytes.iter().position(|&b| b == b'{') {
        Some(open) => match bytes[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    crc16(hashed) % SLOTS
}

/// The hash tag of slot `slot`'s epoch key: `e<n>` for the smallest `n` whose tag hashes to the
/// slot. Every instance and version computes the same tags.
pub(super) fn epoch_tag(slot: u16) -> String {
    static TABLE: OnceLock<Vec<u32>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = vec![u32::MAX; usize::from(SLOTS)];
        let mut missing = usize::from(SLOTS);
        let mut n: u32 = 0;
        while missing > 0 {
            let slot = usize::from(crc16(format!("e{n}").as_bytes()) % SLOTS);
            if let Some(entry) = table.get_mut(slot) {
                if *entry == u32::MAX {
                    *entry = n;
                    missing -= 1;
                }
            }
            n += 1;
        }
        table
    });
    let n = table.get(usize::from(slot % SLOTS)).copied().unwrap_or(0);
    format!("e{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_redis_slots_follow_redis_cluster() {
        // Redis Cluster's specification: CRC16 of "123456789" is 0x31C3.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_eq!(key_slot("foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        for slot in [0, 1, 5000, 16383] {
            assert_eq!(key_slot(&format!("p:{{{}}}:epoch", epoch_tag(slot))), slot);
        }
    }
}
