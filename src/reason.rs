//! Why a record was not written: [`FailReason`] (it could not be processed)
//! and [`DropReason`] (a rule dropped it on purpose). A leaf: the enrichers
//! return a [`DropReason`], the record and batch layers count both, and the
//! metrics and logs name them by [`FailReason::code`] and
//! [`DropReason::code`].

use std::fmt;

/// Why a record could not be processed. The code is what logs and metrics
/// count, so the set is small and fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailReason {
    /// The request record had no `data` string.
    MissingData,
    /// `data` is not valid base64.
    BadBase64,
    /// The decoded data is empty or only whitespace.
    Empty,
    /// The decoded data is not UTF-8.
    NotUtf8,
    /// The decoded data is not valid JSON.
    NotJson,
    /// The decoded data is JSON, but not an object.
    NotObject,
    /// `approximateArrivalTimestamp` is missing or not a usable epoch-ms number.
    BadArrivalTime,
    /// The record's output did not fit in the 6 MB response.
    ResponseTooLarge,
    /// The transform panicked on this record (a bug); caught, not fatal.
    InternalError,
}

impl FailReason {
    pub const ALL: [FailReason; 9] = [
        FailReason::MissingData,
        FailReason::BadBase64,
        FailReason::Empty,
        FailReason::NotUtf8,
        FailReason::NotJson,
        FailReason::NotObject,
        FailReason::BadArrivalTime,
        FailReason::ResponseTooLarge,
        FailReason::InternalError,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FailReason::MissingData => "missing_data",
            FailReason::BadBase64 => "bad_base64",
            FailReason::Empty => "empty",
            FailReason::NotUtf8 => "not_utf8",
            FailReason::NotJson => "not_json",
            FailReason::NotObject => "not_object",
            FailReason::BadArrivalTime => "bad_arrival_time",
            FailReason::ResponseTooLarge => "response_too_large",
            FailReason::InternalError => "internal_error",
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a record was dropped on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The domain matched `DROP_DOMAINS`.
    Domain,
    /// The user agent matched the bundled bot list (`DROP_BOTS=on`).
    Bot,
    /// No consent (`CONSENT_POLICY=drop`).
    NoConsent,
}

impl DropReason {
    pub const ALL: [DropReason; 3] = [DropReason::Domain, DropReason::Bot, DropReason::NoConsent];

    pub fn code(self) -> &'static str {
        match self {
            DropReason::Domain => "domain",
            DropReason::Bot => "bot",
            DropReason::NoConsent => "no_consent",
        }
    }
}
