//! The collector's request handling on arbitrary bodies. The input format
//! and the checks are in tests/common/oracle.rs (`fuzz::collector_input`),
//! which the regression tests replay too.
#![no_main]

#[path = "../../tests/common/oracle.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|input: &[u8]| oracle::fuzz::collector_input(input));
