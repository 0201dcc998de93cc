//! The record transform on arbitrary bytes with an arbitrary arrival time.
//! The input format and the checks are in tests/common/oracle.rs
//! (`fuzz::record_input`), which the regression tests replay too.
#![no_main]

#[path = "../../tests/common/oracle.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|input: &[u8]| oracle::fuzz::record_input(input));
