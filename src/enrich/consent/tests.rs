use super::*;
use proptest::prelude::*;

/// Bits, written most significant first, then base64url without padding:
/// how the tests build TC strings field by field (TCF v2 "The Core String").
#[derive(Default)]
struct Writer(Vec<bool>);

impl Writer {
    fn put(&mut self, value: u64, n: usize) -> &mut Self {
        for i in (0..n).rev() {
            self.0.push(value >> i & 1 == 1);
        }
        self
    }

    fn base64(&self) -> String {
        let bytes: Vec<u8> = self
            .0
            .chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |b, (i, &bit)| b | u8::from(bit) << (7 - i))
            })
            .collect();
        BASE64URL.encode(bytes)
    }
}

/// A vendor section as the spec allows it.
#[derive(Debug, Clone)]
enum Vendors {
    BitField(u16, Vec<u16>),
    Ranges(u16, Vec<(u16, u16)>),
}

impl Vendors {
    fn ids(&self) -> Vec<u16> {
        let mut ids: Vec<u16> = match self {
            Vendors::BitField(_, ids) => ids.clone(),
            Vendors::Ranges(_, ranges) => ranges.iter().flat_map(|&(a, b)| a..=b).collect(),
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn write(&self, w: &mut Writer) {
        match self {
            Vendors::BitField(max, ids) => {
                w.put(u64::from(*max), 16).put(0, 1);
                for v in 1..=*max {
                    w.put(u64::from(ids.contains(&v)), 1);
                }
            }
            Vendors::Ranges(max, ranges) => {
                w.put(u64::from(*max), 16).put(1, 1);
                w.put(ranges.len() as u64, 12);
                for &(a, b) in ranges {
                    if a == b {
                        w.put(0, 1).put(u64::from(a), 16);
                    } else {
                        w.put(1, 1).put(u64::from(a), 16).put(u64::from(b), 16);
                    }
                }
            }
        }
    }
}

/// (purpose, restriction type, vendor ranges)
type Restriction = (u8, u8, Vec<(u16, u16)>);

#[derive(Debug, Clone)]
struct Tc {
    version: u64,
    created_ds: u64,
    cmp_id: u16,
    policy_version: u8,
    purposes: u32,
    li_purposes: u32,
    vendors: Vendors,
    li_vendors: Vendors,
    restrictions: Vec<Restriction>,
}

impl Default for Tc {
    fn default() -> Self {
        Tc {
            version: 2,
            // 2024-05-01 00:00:00 UTC, in deciseconds.
            created_ds: 17_145_216_000,
            cmp_id: 300,
            policy_version: 4,
            purposes: 0,
            li_purposes: 0,
            vendors: Vendors::BitField(0, vec![]),
            li_vendors: Vendors::BitField(0, vec![]),
            restrictions: vec![],
        }
    }
}

impl Tc {
    fn bits(&self) -> Writer {
        let mut w = Writer::default();
        let letters = |w: &mut Writer, s: &str| {
            for b in s.bytes() {
                w.put(u64::from(b - b'A'), 6);
            }
        };
        w.put(self.version, 6)
            .put(self.created_ds, 36)
            .put(self.created_ds, 36)
            .put(u64::from(self.cmp_id), 12)
            .put(7, 12) // CmpVersion
            .put(1, 6); // ConsentScreen
        letters(&mut w, "EN");
        w.put(250, 12) // VendorListVersion
            .put(u64::from(self.policy_version), 6)
            .put(1, 1) // IsServiceSpecific
            .put(0, 1)
            .put(0, 12) // SpecialFeatureOptIns
            .put(u64::from(self.purposes), 24)
            .put(u64::from(self.li_purposes), 24)
            .put(0, 1);
        letters(&mut w, "DE");
        self.vendors.write(&mut w);
        self.li_vendors.write(&mut w);
        w.put(self.restrictions.len() as u64, 12);
        for (purpose, kind, ranges) in &self.restrictions {
            w.put(u64::from(*purpose), 6).put(u64::from(*kind), 2);
            w.put(ranges.len() as u64, 12);
            for &(a, b) in ranges {
                if a == b {
                    w.put(0, 1).put(u64::from(a), 16);
                } else {
                    w.put(1, 1).put(u64::from(a), 16).put(u64::from(b), 16);
                }
            }
        }
        w
    }

    fn encode(&self) -> String {
        self.bits().base64()
    }
}

/// `purposes` as the string stores it: purpose 1 is the first (highest) bit.
fn field_mask(purposes: &[u32]) -> u32 {
    purposes.iter().fold(0, |m, p| m | 1 << (24 - p))
}

/// The decoder's mask: bit `p - 1` is purpose `p`.
fn mask(purposes: &[u32]) -> u32 {
    purposes.iter().fold(0, |m, p| m | 1 << (p - 1))
}

#[test]
fn each_purpose_bit_decodes_to_its_purpose() {
    for p in 1..=24 {
        let tc = Tc {
            purposes: field_mask(&[p]),
            ..Tc::default()
        };
        let d = decode(&tc.encode()).unwrap().unwrap();
        assert_eq!(d.purposes, mask(&[p]), "consent, purpose {p}");
        assert_eq!(d.li_purposes, 0, "purpose {p}");
        assert_eq!(purpose_list(d.purposes), p.to_string());
        let tc = Tc {
            li_purposes: field_mask(&[p]),
            ..Tc::default()
        };
        let d = decode(&tc.encode()).unwrap().unwrap();
        assert_eq!(
            (d.purposes, d.li_purposes),
            (0, mask(&[p])),
            "LI, purpose {p}"
        );
    }
    assert_eq!(purpose_list(mask(&[10, 1, 2, 8, 7, 9])), "1,2,7,8,9,10");
    assert_eq!(purpose_list(0), "");
    assert_eq!(purpose_list(0xff_ffff).split(',').count(), 24);
}

#[test]
fn each_vendor_bit_decodes_to_its_vendor_in_both_encodings() {
    for v in [1u16, 2, 7, 8, 9, 31, 32, 33, 100, 755, 1000, 1500, 4095] {
        for vendors in [
            Vendors::BitField(v, vec![v]),
            Vendors::BitField(v + 9, vec![v]),
            Vendors::Ranges(v, vec![(v, v)]),
        ] {
            let tc = Tc {
                vendors: vendors.clone(),
                ..Tc::default()
            };
            let d = decode(&tc.encode()).unwrap().unwrap();
            assert_eq!(d.vendors, vec![v], "{vendors:?}");
        }
    }
    let tc = Tc {
        vendors: Vendors::Ranges(20, vec![(3, 5), (9, 9), (18, 20)]),
        ..Tc::default()
    };
    let d = decode(&tc.encode()).unwrap().unwrap();
    assert_eq!(d.vendors, vec![3, 4, 5, 9, 18, 19, 20]);
}

#[test]
fn fixed_fields_decode() {
    let tc = Tc {
        cmp_id: 4095,
        policy_version: 5,
        created_ds: 17_145_216_123,
        ..Tc::default()
    };
    let d = decode(&tc.encode()).unwrap().unwrap();
    assert_eq!(d.cmp_id, 4095);
    assert_eq!(d.policy_version, 5);
    assert_eq!(d.created_ms, 1_714_521_612_300);
    assert_eq!(
        crate::time::format_millis(d.created_ms).unwrap().as_str(),
        "2024-05-01 00:00:12.300"
    );
}

/// The fixed fields of a core segment, read by hand here: the oracle for
/// the IAB's published strings.
fn oracle(s: &str) -> (i64, u16, u8, u32, u32) {
    let core = s.split('.').next().unwrap();
    let bytes = BASE64URL.decode(core).unwrap();
    let bit = |i: usize| u64::from(bytes[i / 8] >> (7 - i % 8) & 1);
    let read = |at: usize, n: usize| (at..at + n).fold(0u64, |v, i| v << 1 | bit(i));
    let reverse = |field: u64| (0..24).fold(0u32, |m, i| m | ((field >> (23 - i) & 1) as u32) << i);
    (
        read(6, 36) as i64 * 100,
        read(78, 12) as u16,
        read(132, 6) as u8,
        reverse(read(152, 24)),
        reverse(read(176, 24)),
    )
}

/// Strings the IAB publishes: the TCF v2 specification's example (core,
/// disclosed vendors, allowed vendors, publisher TC) and its core-and-
/// publisher-TC example; the GPP specification's TCF EU examples.
const IAB_TC: &[&str] = &[
    "COw4XqLOw4XqLAAAAAENAXCAAAAAAAAAAAAAAAAAAAAA.IFukWSQgAIQwgI0QEByFAAAAeIAACAIgSAAQAIAgEQACEABAAAgAQFAEAIAAAGBAAgAAAAQAIFAAMCQAAgAAQiRAEQAAAAANAAIAAggAIYQFAAARmggBC3ZCYzU2yIA.QFukWSQgAIQwgI0QEByFAAAAeIAACAIgSAAQAIAgEQACEABAAAgAQFAEAIAAAGBAAgAAAAQAIFAAMCQAAgAAQiRAEQAAAAANAAIAAggAIYQFAAARmggBC3ZCYzU2yIA.YAAAAAAAAAAAAAAAAAA",
    "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA.argAC0gAAAAAAAAAAAA",
    "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA",
];

#[test]
fn iab_published_strings_decode_as_their_bits_say() {
    for s in IAB_TC {
        let d = decode(s).unwrap().unwrap();
        let (created, cmp, policy, purposes, li) = oracle(s);
        assert_eq!(
            (
                d.created_ms,
                d.cmp_id,
                d.policy_version,
                d.purposes,
                d.li_purposes
            ),
            (created, cmp, policy, purposes, li),
            "{s}"
        );
    }
    // What the specification says of its first example.
    let d = decode(IAB_TC[0]).unwrap().unwrap();
    assert_eq!(d.created_ms, 1_585_246_887_500);
    assert_eq!(d.cmp_id, 0);
    // The GPP specification's strings carry the same core as a section.
    for gpp in [
        "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA",
        "DBACNY~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN",
    ] {
        assert_eq!(decode(gpp), decode(IAB_TC[2]), "{gpp}");
    }
}

#[test]
fn malformed_truncated_and_empty_strings_answer_a_reason() {
    let valid = Tc {
        purposes: field_mask(&[1, 2]),
        vendors: Vendors::Ranges(900, vec![(1, 300), (755, 755)]),
        ..Tc::default()
    }
    .encode();
    let long = "C".repeat(MAX_STRING_BYTES + 1);
    let cases: Vec<(String, Result<Option<()>, Invalid>)> = vec![
        // --- no string ---
        ("".into(), Ok(None)),
        ("  ".into(), Ok(None)),
        // A GPP string with no EU section (Canada's and the US's only).
        (
            "DBABjw~BPXuQIAPXuQIAAfKABENB-CgAAAAAAAAAAAAAAAA.YAAAAAAAAAA~1YNN".into(),
            Ok(None),
        ),
        // --- malformed ---
        (long, Err(Invalid::TooLong)),
        ("C".into(), Err(Invalid::BadBase64)),
        ("C!AAAAAA".into(), Err(Invalid::BadBase64)),
        (
            "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA=".into(),
            Err(Invalid::BadBase64),
        ),
        ("CA".into(), Err(Invalid::Truncated)),
        ("CPXxRfAPXxRfAAfKABENBA".into(), Err(Invalid::Truncated)),
        // The last vendor section's bits cut off.
        (valid[..valid.len() - 8].into(), Err(Invalid::Truncated)),
        // TCF v1 (version 1: `B`), and what is no consent string at all.
        (
            "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA".into(),
            Err(Invalid::Unsupported),
        ),
        ("yes".into(), Err(Invalid::Unsupported)),
        ("{\"tcString\":1}".into(), Err(Invalid::Unsupported)),
        // Version 4 (`E`); version 3 would start with `D`, a GPP header.
        (
            Tc {
                version: 4,
                ..Tc::default()
            }
            .encode(),
            Err(Invalid::Unsupported),
        ),
        (
            Tc {
                version: 3,
                ..Tc::default()
            }
            .encode(),
            Err(Invalid::BadGpp),
        ),
        // GPP: header only, a header naming one section with two, a bad
        // header, an empty EU section.
        ("DBABMA".into(), Err(Invalid::BadGpp)),
        (
            "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN".into(),
            Err(Invalid::BadGpp),
        ),
        ("D!~x".into(), Err(Invalid::BadGpp)),
        ("DBABMA~".into(), Err(Invalid::Truncated)),
        ("DBABMA~CA".into(), Err(Invalid::Truncated)),
        // Ranges: descending, ending at 65535, or covering too many ids.
        (
            Tc {
                vendors: Vendors::Ranges(9, vec![(9, 3)]),
                ..Tc::default()
            }
            .encode(),
            Err(Invalid::BadRange),
        ),
        (
            Tc {
                vendors: Vendors::Ranges(u16::MAX, vec![(1, u16::MAX)]),
                ..Tc::default()
            }
            .encode(),
            Err(Invalid::BadRange),
        ),
        (
            Tc {
                vendors: Vendors::Ranges(60000, vec![(1, 60000), (1, 60000)]),
                ..Tc::default()
            }
            .encode(),
            Err(Invalid::BadRange),
        ),
        (
            Tc {
                restrictions: vec![(1, 0, vec![(1, 40000)]), (2, 0, vec![(1, 40000)])],
                ..Tc::default()
            }
            .encode(),
            Err(Invalid::BadRange),
        ),
        // --- valid ---
        (valid.clone(), Ok(Some(()))),
        (format!(" {valid} "), Ok(Some(()))),
        (format!("DBABMA~{valid}"), Ok(Some(()))),
        (format!("{valid}.YAAAAAAAAAAAAAAAAAA"), Ok(Some(()))),
    ];
    for (s, want) in &cases {
        let got = decode(s).map(|d| d.map(|_| ()));
        assert_eq!(&got, want, "{s:?}");
    }
}

/// `lib_tcstring` decodes what the check lets through without panicking,
/// called directly (no `catch_unwind`): every prefix of valid strings, and
/// strings whose sections end exactly at a byte boundary.
#[test]
fn every_truncation_is_refused_or_decoded_without_panic() {
    let strings = [
        Tc::default(),
        Tc {
            vendors: Vendors::Ranges(800, vec![(1, 2), (755, 755), (790, 800)]),
            li_vendors: Vendors::BitField(40, vec![1, 40]),
            restrictions: vec![(2, 1, vec![(5, 9)])],
            ..Tc::default()
        },
        Tc {
            vendors: Vendors::BitField(61, vec![61]),
            li_vendors: Vendors::Ranges(3, vec![(1, 3)]),
            ..Tc::default()
        },
    ];
    for tc in strings {
        let bits = tc.bits();
        for cut in 0..=bits.0.len() + 16 {
            let mut w = Writer(bits.0.iter().copied().take(cut).collect());
            w.0.resize(cut, false);
            let s = w.base64();
            if let Ok(bytes) = BASE64URL.decode(&s) {
                if check_core(&bytes).is_ok() {
                    let _ = lib_tcstring::TcModelV2::try_from(s.as_str());
                }
            }
            assert_ne!(decode(&s), Err(Invalid::DecoderPanic), "{s}");
        }
    }
}

/// `iab_gpp`'s own TCF EU decoder agrees with `lib_tcstring` on the core,
/// except where it reads publisher restrictions as GPP's "optimized"
/// ranges, which a TC string does not use: the reason it is not used.
#[test]
fn iab_gpp_section_decoder_differs_on_publisher_restrictions() {
    use iab_gpp::sections::tcfeuv2::TcfEuV2;
    use std::str::FromStr;
    let plain = Tc {
        purposes: field_mask(&[1, 3, 9]),
        vendors: Vendors::Ranges(800, vec![(2, 4), (755, 755)]),
        ..Tc::default()
    };
    let gpp = TcfEuV2::from_str(&plain.encode()).unwrap();
    let ours = decode(&plain.encode()).unwrap().unwrap();
    assert_eq!(
        gpp.core.vendor_consents.iter().copied().collect::<Vec<_>>(),
        ours.vendors
    );
    assert_eq!(u32::from(gpp.core.cmp_id as u16), u32::from(ours.cmp_id));
    let restricted = Tc {
        restrictions: vec![(2, 1, vec![(5, 9), (12, 12)])],
        ..plain
    };
    let s = restricted.encode();
    assert!(decode(&s).unwrap().is_some(), "lib_tcstring reads it");
    let read = TcfEuV2::from_str(&s);
    let agrees = read.as_ref().is_ok_and(|t| {
        t.core.publisher_restrictions.len() == 1
            && t.core.publisher_restrictions[0]
                .restricted_vendor_ids
                .iter()
                .copied()
                .eq([5, 6, 7, 8, 9, 12])
    });
    assert!(!agrees, "iab_gpp now reads restrictions right: {read:?}");
}

fn vendors_strategy() -> impl Strategy<Value = Vendors> {
    prop_oneof![
        (1u16..600, proptest::collection::vec(1u16..600, 0..20)).prop_map(|(max, ids)| {
            let ids: Vec<u16> = ids.into_iter().filter(|&v| v <= max).collect();
            Vendors::BitField(max, ids)
        }),
        proptest::collection::vec((1u16..3000, 0u16..50), 0..12).prop_map(|r| {
            let ranges: Vec<(u16, u16)> = r.into_iter().map(|(a, n)| (a, a + n)).collect();
            let max = ranges.iter().map(|r| r.1).max().unwrap_or(0);
            Vendors::Ranges(max, ranges)
        }),
    ]
}

proptest! {
    /// Strings built field by field decode to what was built.
    #[test]
    fn built_strings_round_trip(
        purposes in 0u32..1 << 24,
        li in 0u32..1 << 24,
        cmp_id in 0u16..4096,
        policy_version in 0u8..64,
        created_ds in 0u64..1 << 36,
        vendors in vendors_strategy(),
        li_vendors in vendors_strategy(),
        gpp in any::<bool>(),
    ) {
        let tc = Tc { version: 2, created_ds, cmp_id, policy_version, purposes, li_purposes: li,
                      vendors: vendors.clone(), li_vendors, restrictions: vec![] };
        let s = if gpp { format!("DBABMA~{}", tc.encode()) } else { tc.encode() };
        let d = decode(&s).unwrap().unwrap();
        let reverse = |f: u32| (0..24).fold(0u32, |m, i| m | (f >> (23 - i) & 1) << i);
        prop_assert_eq!(d.purposes, reverse(purposes));
        prop_assert_eq!(d.li_purposes, reverse(li));
        prop_assert_eq!(d.cmp_id, cmp_id);
        prop_assert_eq!(d.policy_version, policy_version);
        prop_assert_eq!(d.created_ms, created_ds as i64 * 100);
        prop_assert_eq!(d.vendors, vendors.ids());
    }

    /// Anything shaped like a consent string: an answer, never a panic,
    /// never a panic caught.
    #[test]
    fn any_string_decodes_or_answers_a_reason(
        prefix in prop_oneof![Just(""), Just("C"), Just("CP"), Just("DBABMA~C"), Just("DBA"), Just("DBACNY~C")],
        body in "[A-Za-z0-9_~.-]{0,120}",
    ) {
        let s = format!("{prefix}{body}");
        prop_assert_ne!(decode(&s), Err(Invalid::DecoderPanic));
    }

    /// Built strings with random bits flipped: the check and the decoder
    /// agree that they decode, or refuse them, and nothing panics.
    #[test]
    fn flipped_bits_never_panic(vendors in vendors_strategy(), flips in proptest::collection::vec(0usize..400, 1..6)) {
        let tc = Tc { vendors, ..Tc::default() };
        let mut bits = tc.bits();
        for f in flips {
            if f < bits.0.len() {
                bits.0[f] = !bits.0[f];
            }
        }
        let s = bits.base64();
        prop_assert_ne!(decode(&s), Err(Invalid::DecoderPanic));
    }
}

// --- the stage ------------------------------------------------------------

fn config(vars: &[(&str, &str)]) -> crate::Config {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    crate::Config::from_lookup(move |name| {
        if name == "ENRICHMENTS" {
            return Some("consent".into());
        }
        let set = vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        // The policy on its own: the operator's IP masking (on by default)
        // is off unless a test sets it.
        set.or_else(|| (name == "ANONYMIZE_IP").then(|| "off".into()))
    })
    .unwrap()
}

fn run(config: &crate::Config, input: &str) -> (crate::record::Outcome, serde_json::Value) {
    let t = crate::record::transform(input.as_bytes(), 1_714_521_600_000, config);
    let v = if t.data.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&t.data).unwrap()
    };
    (t.outcome, v)
}

#[test]
fn fields_and_status_per_record() {
    let granted = Tc {
        purposes: field_mask(&[1, 2, 7, 8, 9, 10]),
        li_purposes: field_mask(&[2, 7]),
        vendors: Vendors::BitField(800, vec![755]),
        ..Tc::default()
    }
    .encode();
    let without_1 = Tc {
        purposes: field_mask(&[2, 8]),
        vendors: Vendors::BitField(800, vec![755]),
        ..Tc::default()
    }
    .encode();
    let c = config(&[]);
    let vendor = config(&[
        ("CONSENT_VENDOR_ID", "12"),
        ("CONSENT_REQUIRED_PURPOSES", "1,8"),
    ]);
    let none = config(&[("CONSENT_REQUIRED_PURPOSES", "")]);
    type Case<'a> = (&'a crate::Config, String, &'a str);
    let cases: Vec<Case> = vec![
        // --- edge cases ---
        (&c, r#"{}"#.into(), "missing"),
        (&c, r#"{"tcString":""}"#.into(), "missing"),
        (&c, r#"{"tcString":null,"gpp":7}"#.into(), "missing"),
        (&c, r#"{"tcString":"garbage"}"#.into(), "invalid"),
        (&c, r#"{"gpc":true}"#.into(), "gpc"),
        (
            &c,
            format!(r#"{{"tcString":"{granted}","gpc":"1"}}"#),
            "gpc",
        ),
        (
            &c,
            format!(r#"{{"tcString":"{granted}","gpc":false}}"#),
            "granted",
        ),
        (
            &c,
            format!(r#"{{"tcString":"","consent":{{"tcString":"{granted}"}}}}"#),
            "granted",
        ),
        (&c, format!(r#"{{"gpp":"DBABMA~{without_1}"}}"#), "denied"),
        (&vendor, format!(r#"{{"tcString":"{granted}"}}"#), "denied"),
        (&none, format!(r#"{{"tcString":"{without_1}"}}"#), "granted"),
        (&none, r#"{"tcString":"CA"}"#.into(), "invalid"),
        // --- the plain cases ---
        (&c, format!(r#"{{"tcString":"{granted}"}}"#), "granted"),
        (&c, format!(r#"{{"tcString":"{without_1}"}}"#), "denied"),
    ];
    for (config, input, want) in &cases {
        let (_, v) = run(config, input);
        assert_eq!(v["consent_status"], *want, "{input}");
        if matches!(*want, "missing" | "invalid") {
            assert!(v.get("consent_cmp_id").is_none(), "{input}: {v}");
        }
        if matches!(*want, "granted" | "denied") {
            assert!(v.get("consent_cmp_id").is_some(), "{input}: {v}");
        }
    }
    let (_, v) = run(&c, &format!(r#"{{"tcString":"{granted}"}}"#));
    assert_eq!(v["consent_purposes"], "1,2,7,8,9,10");
    assert_eq!(v["consent_li_purposes"], "2,7");
    assert_eq!(v["consent_cmp_id"], 300);
    assert_eq!(v["consent_policy_version"], 4);
    assert_eq!(v["consent_created"], "2024-05-01 00:00:00.000");
    assert!(v.get("consent_vendor").is_none(), "no CONSENT_VENDOR_ID");
    let (_, v) = run(&vendor, &format!(r#"{{"tcString":"{granted}"}}"#));
    assert_eq!(v["consent_vendor"], false);
    let (_, v) = run(
        &config(&[("CONSENT_VENDOR_ID", "755")]),
        &format!(r#"{{"tcString":"{granted}"}}"#),
    );
    assert_eq!(
        (v["consent_vendor"].clone(), v["consent_status"].clone()),
        (true.into(), "granted".into())
    );
    // No purposes at all: the fields are omitted, not empty.
    let (_, v) = run(
        &c,
        &format!(r#"{{"tcString":"{}"}}"#, Tc::default().encode()),
    );
    assert!(
        v.get("consent_purposes").is_none() && v.get("consent_li_purposes").is_none(),
        "{v}"
    );
    // An input member of ours is replaced.
    let (_, v) = run(&c, r#"{"consent_status":"granted"}"#);
    assert_eq!(v["consent_status"], "missing");
}

#[test]
fn policy_anonymizes_or_drops_what_is_not_granted() {
    use crate::record::{DropReason, Outcome};
    let denied = Tc::default().encode();
    let granted = Tc {
        purposes: field_mask(&[1]),
        ..Tc::default()
    }
    .encode();
    let event = |tc: &str, extra: &str| {
        format!(
            r#"{{"tcString":"{tc}","ip":"203.0.113.77","x_forwarded_for":"203.0.113.77, proxy","user_id":"u-123","ctx":{{"device_id":"d-9","n":1}},"user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0","url":"https://a.example.com/p?email=a%40b.c&utm_source=x#t"{extra}}}"#
        )
    };
    let anon = config(&[
        ("CONSENT_POLICY", "anonymize"),
        ("ID_FIELDS", "user_id,ctx.device_id"),
    ]);
    let (outcome, v) = run(&anon, &event(&denied, ""));
    assert!(matches!(outcome, Outcome::Ok(_)));
    assert_eq!(v["ip"], "203.0.113.0");
    assert!(
        v.get("x_forwarded_for").is_none(),
        "not wholly addresses: removed"
    );
    assert!(
        v.get("user_id").is_none() && v.get("user_agent").is_none(),
        "{v}"
    );
    assert_eq!(v["ctx"], serde_json::json!({"n":1}));
    assert_eq!(v["url"], "https://a.example.com/p?utm_source=x");
    assert_eq!(v["consent_status"], "denied");
    // Granted: untouched.
    let (_, v) = run(&anon, &event(&granted, ""));
    assert_eq!(v["ip"], "203.0.113.77");
    assert_eq!(v["user_id"], "u-123");
    // The operator's own controls apply on top of the policy's edits.
    let both = config(&[
        ("CONSENT_POLICY", "anonymize"),
        ("ID_FIELDS", "user_id,ctx.device_id"),
        ("HASH_FIELDS", "ctx.n,user_id"),
        ("HASH_KEY", "0123456789abcdef0123456789abcdef"),
    ]);
    let (_, v) = run(&both, &event(&denied, ""));
    assert!(v.get("user_id").is_none(), "removed stays removed: {v}");
    assert!(v["ctx"].get("device_id").is_none(), "{v}");
    assert_eq!(v["ctx"]["n"].as_str().map(str::len), Some(64), "{v}");
    // Missing: allowed by default, denied with CONSENT_MISSING=deny.
    let (_, v) = run(&anon, r#"{"user_id":"u-1"}"#);
    assert_eq!(v["user_id"], "u-1");
    let strict = config(&[("CONSENT_POLICY", "anonymize"), ("CONSENT_MISSING", "deny")]);
    let (_, v) = run(&strict, r#"{"user_id":"u-1"}"#);
    assert!(v.get("user_id").is_none());
    // Drop.
    let drop = config(&[("CONSENT_POLICY", "drop")]);
    for input in [
        event(&denied, ""),
        event("CA", ""),
        event(&granted, r#","gpc":true"#),
    ] {
        assert_eq!(
            run(&drop, &input).0,
            Outcome::Dropped(DropReason::NoConsent),
            "{input}"
        );
    }
    assert!(matches!(run(&drop, &event(&granted, "")).0, Outcome::Ok(_)));
    assert!(matches!(run(&drop, r#"{}"#).0, Outcome::Ok(_)));
}

#[test]
fn invalid_values_name_their_variable() {
    let build = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        crate::Config::from_lookup(move |n| {
            vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        })
    };
    let on = ("ENRICHMENTS", "consent");
    for (name, value) in [
        ("CONSENT_FIELDS", ""),
        ("CONSENT_FIELDS", "tcString,,gpp"),
        ("GPC_FIELDS", ""),
        ("CONSENT_REQUIRED_PURPOSES", "0"),
        ("CONSENT_REQUIRED_PURPOSES", "25"),
        ("CONSENT_REQUIRED_PURPOSES", "1,,2"),
        ("CONSENT_REQUIRED_PURPOSES", "+1"),
        ("CONSENT_VENDOR_ID", "0"),
        ("CONSENT_VENDOR_ID", "65535"),
        ("CONSENT_VENDOR_ID", "x"),
        ("CONSENT_POLICY", "on"),
        ("CONSENT_POLICY", "Drop"),
        ("CONSENT_MISSING", "yes"),
        ("ID_FIELDS", "a..b"),
    ] {
        let err = build(&[on, (name, value)]).expect_err(name);
        assert_eq!(err.variable, name, "{value}");
        assert!(err.to_string().contains(err.expected), "{err}");
    }
    // A policy without the enricher would protect nothing.
    for policy in ["anonymize", "drop"] {
        let err = build(&[("CONSENT_POLICY", policy)]).unwrap_err();
        assert_eq!(err.variable, "CONSENT_POLICY");
    }
    assert!(build(&[("CONSENT_POLICY", "off")]).is_ok());
    // Validated with the enricher off too.
    assert_eq!(
        build(&[("CONSENT_VENDOR_ID", "x")]).unwrap_err().variable,
        "CONSENT_VENDOR_ID"
    );
    let off = build(&[]).unwrap();
    assert!(
        !off.top_keys.iter().any(|k| k == "tcString" || k == "gpc"),
        "an enricher that is off adds no key to look for: {:?}",
        off.top_keys
    );
    assert!(build(&[
        on,
        ("CONSENT_POLICY", "drop"),
        ("CONSENT_VENDOR_ID", "755"),
        ("CONSENT_REQUIRED_PURPOSES", " 1, 8 ,9")
    ])
    .is_ok());
    assert!(build(&[on, ("ID_FIELDS", "")]).is_ok());
}

#[test]
fn status_codes_need_no_escape() {
    for s in Status::ALL {
        assert!(!s.code().is_empty() && !super::super::needs_escape(s.code().as_bytes()));
    }
}
