//! The events inside what Firehose writes or sends, recognized by shape, so
//! that `replay` and `sizing` read them as the events they carry:
//!
//! * a Firehose **error record** (`errors/processing-failed/…`: one JSON
//!   document per line with `rawData`, `errorCode`, `attemptsMade`,
//!   `lambdaArn` or `lambdaARN`…) carries one event, its `rawData`;
//! * a Firehose **request** (an object with a `records` array of objects
//!   with `data`, as in `events/*.json`) carries one event per record;
//! * anything else is an event itself.
//!
//! A `rawData` or `data` that is not base64 is passed on as its text: the
//! transform rejects it, so it lands in the error output rather than being
//! skipped.

use base64::Engine;
use serde::Deserialize;
use std::borrow::Cow;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What a piece of input was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An event.
    Event,
    /// A Firehose error record; its `rawData` is the event.
    ErrorRecord,
    /// A Firehose transformation request; its records' `data` are the events.
    Request,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorRecordIn<'a> {
    #[serde(borrow)]
    raw_data: Cow<'a, str>,
    // At least one of Firehose's other fields, so that an event of the
    // user's own that happens to have `rawData` stays an event.
    error_code: Option<serde::de::IgnoredAny>,
    attempts_made: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct RequestIn<'a> {
    #[serde(borrow)]
    records: Vec<RequestRecordIn<'a>>,
}

/// A request record as Firehose sends it; `recordId` is what makes it one.
/// Leniently typed: a record without string `data` has no event to replay
/// (the function fails it as `missing_data`); it is counted, not replayed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestRecordIn<'a> {
    #[allow(dead_code)]
    record_id: serde::de::IgnoredAny,
    #[serde(borrow, default)]
    data: Option<&'a serde_json::value::RawValue>,
}

/// The events one piece of input carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried<'a> {
    /// What the piece was.
    pub shape: Shape,
    pub events: Vec<Cow<'a, [u8]>>,
    /// Records of a request with no `data` string: no event to replay, but
    /// a record all the same, which the function fails as `missing_data`.
    pub without_data: usize,
}

/// The events in one piece of input, and what it was.
pub fn events(piece: &[u8]) -> Carried<'_> {
    // Only objects can be either Firehose shape; a cheap look first keeps
    // plain events off the second parse.
    let looks = |key: &[u8]| memchr::memmem::find(piece, key).is_some();
    if piece.first() == Some(&b'{') {
        if looks(b"\"rawData\"") {
            if let Ok(r) = serde_json::from_slice::<ErrorRecordIn>(piece) {
                if r.error_code.is_some() || r.attempts_made.is_some() {
                    return Carried {
                        shape: Shape::ErrorRecord,
                        events: vec![decode(&r.raw_data)],
                        without_data: 0,
                    };
                }
            }
        }
        if looks(b"\"records\"") {
            if let Ok(r) = serde_json::from_slice::<RequestIn>(piece) {
                let events: Vec<Cow<[u8]>> = r
                    .records
                    .iter()
                    .filter_map(|r| serde_json::from_str::<Cow<str>>(r.data?.get()).ok())
                    .map(|text| decode(&text))
                    .collect();
                return Carried {
                    shape: Shape::Request,
                    without_data: r.records.len() - events.len(),
                    events,
                };
            }
        }
    }
    Carried {
        shape: Shape::Event,
        events: vec![Cow::Borrowed(piece)],
        without_data: 0,
    }
}

fn decode(text: &str) -> Cow<'static, [u8]> {
    match BASE64.decode(text) {
        Ok(bytes) => Cow::Owned(bytes),
        Err(_) => Cow::Owned(text.as_bytes().to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let b = |s: &str| BASE64.encode(s);
        let cases: Vec<(String, Shape, Vec<&str>)> = vec![
            // --- edges ---
            ("{}".into(), Shape::Event, vec!["{}"]),
            ("[1,2]".into(), Shape::Event, vec!["[1,2]"]),
            // An event of its own with a rawData field: no Firehose field
            // beside it, so it stays an event.
            (
                r#"{"rawData":"e30="}"#.into(),
                Shape::Event,
                vec![r#"{"rawData":"e30="}"#],
            ),
            // Not base64: passed on as text, for the transform to reject.
            (
                r#"{"rawData":"%%%","errorCode":"Lambda.X"}"#.into(),
                Shape::ErrorRecord,
                vec!["%%%"],
            ),
            (r#"{"records":[]}"#.into(), Shape::Request, vec![]),
            // `records` that are not Firehose records: an event.
            (
                r#"{"records":[1,2]}"#.into(),
                Shape::Event,
                vec![r#"{"records":[1,2]}"#],
            ),
            (
                r#"{"records":[{"data":"e30="}]}"#.into(),
                Shape::Event,
                vec![r#"{"records":[{"data":"e30="}]}"#],
            ),
            // A record with no data, or data that is not a string, has no
            // event; bad base64 is passed on as text.
            (
                r#"{"records":[{"recordId":"1"},{"recordId":"2","data":7},{"recordId":"3","data":"e30="},{"recordId":"4","data":"!!"}]}"#.into(),
                Shape::Request,
                vec!["{}", "!!"],
            ),
            // Both spellings of the function's ARN, and escapes in rawData.
            (
                format!(
                    r#"{{"attemptsMade":4,"arrivalTimestamp":1,"errorCode":"Lambda.ProcessingFailed","errorMessage":"x","attemptEndingTimestamp":2,"rawData":"{}","lambdaARN":"arn"}}"#,
                    b(r#"{"a":1}"#).replace('/', "\\/")
                ),
                Shape::ErrorRecord,
                vec![r#"{"a":1}"#],
            ),
            // --- ordinary ---
            (
                format!(
                    r#"{{"attemptsMade":1,"errorCode":"Lambda.ProcessingFailed","rawData":"{}","lambdaArn":"arn"}}"#,
                    b(r#"{"url":"https://a.example/"}"#)
                ),
                Shape::ErrorRecord,
                vec![r#"{"url":"https://a.example/"}"#],
            ),
            (
                format!(
                    r#"{{"invocationId":"i","records":[{{"recordId":"1","data":"{}"}},{{"recordId":"2","data":"{}"}}]}}"#,
                    b(r#"{"n":1}"#),
                    b(r#"{"n":2}"#)
                ),
                Shape::Request,
                vec![r#"{"n":1}"#, r#"{"n":2}"#],
            ),
            (
                r#"{"ts":1,"url":"https://example.com/"}"#.into(),
                Shape::Event,
                vec![r#"{"ts":1,"url":"https://example.com/"}"#],
            ),
        ];
        for (input, shape, want) in &cases {
            let carried = events(input.as_bytes());
            assert_eq!(carried.shape, *shape, "{input}");
            let got: Vec<&[u8]> = carried.events.iter().map(|c| &c[..]).collect();
            let want: Vec<&[u8]> = want.iter().map(|w| w.as_bytes()).collect();
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn request_records_without_data_are_counted() {
        // (input, records without a data string)
        let cases = [
            (r#"{"records":[]}"#, 0),
            (r#"{"records":[{"recordId":"1","data":"e30="}]}"#, 0),
            (r#"{"records":[{"recordId":"1"}]}"#, 1),
            (
                r#"{"records":[{"recordId":"1"},{"recordId":"2","data":7},{"recordId":"3","data":null},{"recordId":"4","data":"e30="}]}"#,
                3,
            ),
            // Not a request: an event, nothing without data.
            (r#"{"records":[{"data":"e30="}]}"#, 0),
        ];
        for (input, want) in cases {
            assert_eq!(events(input.as_bytes()).without_data, want, "{input}");
        }
    }
}
