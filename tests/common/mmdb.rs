//! A minimal MaxMind DB writer, for test databases: an IPv6 tree (IPv4
//! networks under `::/96`, as MaxMind's own files have them) with 32-bit
//! records, a data section and the metadata, per the MaxMind DB format
//! specification 2.0. No pointers and no deduplication: each network's
//! value is written once.

use std::net::IpAddr;

/// A value in the data section.
#[derive(Debug, Clone)]
pub enum V {
    Str(&'static str),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'static str, V)>),
    Arr(Vec<V>),
}

fn control(kind: u8, size: usize, out: &mut Vec<u8>) {
    let (first, ext) = if kind <= 7 {
        (kind << 5, None)
    } else {
        (0, Some(kind - 7))
    };
    let (bits, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    out.push(first | bits);
    out.extend(ext);
    out.extend(extra);
}

fn uint(kind: u8, value: u64, out: &mut Vec<u8>) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(kind, 8 - skip, out);
    out.extend_from_slice(&bytes[skip..]);
}

pub fn encode(v: &V, out: &mut Vec<u8>) {
    match v {
        V::Str(s) => {
            control(2, s.len(), out);
            out.extend_from_slice(s.as_bytes());
        }
        V::U16(n) => uint(5, u64::from(*n), out),
        V::U32(n) => uint(6, u64::from(*n), out),
        V::U64(n) => uint(9, *n, out),
        V::Map(members) => {
            control(7, members.len(), out);
            for (k, v) in members {
                encode(&V::Str(k), out);
                encode(v, out);
            }
        }
        V::Arr(items) => {
            control(11, items.len(), out);
            for v in items {
                encode(v, out);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Child {
    Empty,
    Node(usize),
    Data(usize),
}

/// A database of these networks (`"192.0.2.0/24"`, `"2001:db8::/32"`).
pub fn database(kind: &'static str, networks: &[(&str, V)]) -> Vec<u8> {
    let mut nodes: Vec<[Child; 2]> = vec![[Child::Empty; 2]];
    let mut data = Vec::new();
    for (cidr, value) in networks {
        let (addr, len) = cidr.split_once('/').unwrap();
        let len: usize = len.parse().unwrap();
        let (bits, len) = match addr.parse::<IpAddr>().unwrap() {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), len + 96),
            IpAddr::V6(v6) => (u128::from(v6), len),
        };
        let offset = data.len();
        encode(value, &mut data);
        let bit = |i: usize| ((bits >> (127 - i)) & 1) as usize;
        let mut node = 0;
        for i in 0..len - 1 {
            node = match nodes[node][bit(i)] {
                Child::Node(n) => n,
                _ => {
                    nodes.push([Child::Empty; 2]);
                    let n = nodes.len() - 1;
                    nodes[node][bit(i)] = Child::Node(n);
                    n
                }
            };
        }
        nodes[node][bit(len - 1)] = Child::Data(offset);
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for node in &nodes {
        for child in node {
            let record = match *child {
                Child::Empty => count,
                Child::Node(n) => n,
                Child::Data(offset) => count + 16 + offset,
            };
            out.extend_from_slice(&(record as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    let metadata = V::Map(vec![
        ("binary_format_major_version", V::U16(2)),
        ("binary_format_minor_version", V::U16(0)),
        ("build_epoch", V::U64(1_795_770_902)),
        ("database_type", V::Str(kind)),
        ("description", V::Map(vec![("en", V::Str("test database"))])),
        ("ip_version", V::U16(6)),
        ("languages", V::Arr(vec![V::Str("en")])),
        ("node_count", V::U32(count as u32)),
        ("record_size", V::U16(32)),
    ]);
    encode(&metadata, &mut out);
    out
}
