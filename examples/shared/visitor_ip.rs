//! Shared by the input generators (`gen_batch`, `gen_events`), so that the
//! bench batches and the demo's events give a visitor the same address.

/// A visitor's public address: IPv4 from a few regional registries'
/// blocks, one visitor in five on IPv6. From the visitor's number, not a
/// generator, so every other generated value stays as it was.
pub fn visitor_ip(visitor: u64) -> String {
    const V4: [u8; 8] = [2, 31, 46, 62, 81, 89, 151, 185];
    let h = visitor.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    if h.is_multiple_of(5) {
        format!(
            "2a02:{:x}:{:x}::{:x}",
            (h >> 8) & 0xffff,
            (h >> 24) & 0xffff,
            (h >> 40) & 0xfff
        )
    } else {
        format!(
            "{}.{}.{}.{}",
            V4[(h >> 8) as usize % 8],
            (h >> 16) & 0xff,
            (h >> 24) & 0xff,
            1 + (h >> 32) % 254
        )
    }
}
