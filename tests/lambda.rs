//! The Lambda handler itself, called directly with `Context::default()`.

use firehose_enricher::{lambda, Config};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::value::RawValue;
use serde_json::Value;

fn event(payload: &str) -> LambdaEvent<Box<RawValue>> {
    LambdaEvent::new(
        RawValue::from_string(payload.to_owned()).unwrap(),
        Context::default(),
    )
}

#[tokio::test]
async fn handler_transforms_a_batch() {
    let request =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/events/consent.json"))
            .unwrap();
    let response = lambda::handler(&lambda::Function::new(Config::default()), event(&request))
        .await
        .unwrap();
    let v: Value = serde_json::from_str(response.get()).unwrap();
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), 6);
    assert!(records.iter().all(|r| r["result"] == "Ok"));
    assert_eq!(records[0]["metadata"]["partitionKeys"]["site"], "bbc.co.uk");
}

#[tokio::test]
async fn handler_rejects_what_is_not_a_firehose_event() {
    let cases = [
        r#"{"Records":[{"eventSource":"aws:sqs"}]}"#,
        "[]",
        "\"hello\"",
        "null",
    ];
    for payload in cases {
        let err = lambda::handler(&lambda::Function::new(Config::default()), event(payload))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, "InvalidFirehoseRequest", "{payload}");
        assert!(
            err.error_message
                .starts_with("not a Firehose transformation request"),
            "{}",
            err.error_message
        );
    }
}
