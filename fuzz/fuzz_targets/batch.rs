//! The request parser and the whole batch on arbitrary bytes. The input
//! format and the checks are in tests/common/oracle.rs
//! (`fuzz::batch_input`), which the regression tests replay too.
#![no_main]

#[path = "../../tests/common/oracle.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|input: &[u8]| oracle::fuzz::batch_input(input));
