//! Consent strings (TC strings and GPP strings) on arbitrary input: the
//! decoder answers a decoding or a reason, never panics, and what the check
//! in front of `lib_tcstring` lets through decodes without its
//! `catch_unwind` (a caught panic would answer `decoder`).
#![no_main]

use firehose_enricher::enrich::consent::{decode, Invalid};

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    // Mostly consent-shaped text: the first byte picks a prefix, the rest
    // is the string.
    let Some((&pick, rest)) = input.split_first() else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let s = match pick % 4 {
        0 => format!("C{rest}"),
        1 => format!("DBABMA~C{rest}"),
        2 => format!("DBA{rest}"),
        _ => rest.to_owned(),
    };
    match decode(&s) {
        Ok(Some(d)) => {
            assert!(d.purposes < 1 << 24 && d.li_purposes < 1 << 24);
            assert!(d.vendors.windows(2).all(|w| w[0] < w[1]));
        }
        Ok(None) => {}
        Err(reason) => assert_ne!(reason, Invalid::DecoderPanic, "{s:?}"),
    }
});
