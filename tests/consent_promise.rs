//! The consent policy's promise: with `CONSENT_POLICY=anonymize` or `drop`,
//! no value of `IP_FIELDS`, `ID_FIELDS` or the raw user agent of an event
//! without consent appears anywhere the function puts bytes: the response
//! (each output line, `extra` in Parquet mode, the partition keys, the
//! whole response text) and what is logged (the metrics line and the batch
//! report the Lambda logs from). Events are generated; the test scans bytes.

mod common;

use base64::Engine;
use firehose_enricher::{batch, metrics, Config};
use proptest::prelude::*;
use serde_json::{json, Value};

/// A TC string granting purposes 1, 2, 7-10 (CMP 10), one granting only 2
/// and 8 (so `denied` under the default `CONSENT_REQUIRED_PURPOSES=1`).
const GRANTED: &str = "CQuIxQAQuIxQAAKABBEND6EgAMPAAAAAAAYgAAAAAAAA";
const DENIED: &str = "CQuIxQAQuIxQAAKABBEND6EgAEEAAAAAAAYgAAAAAAAA";

const COLUMNS: &str = r#"[{"name":"event_time","type":"timestamp"},{"name":"url","type":"string"},{"name":"extra","type":"string"}]"#;

/// What makes an event non-consenting.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Denied,
    Invalid,
    Gpc,
    Missing,
}

#[derive(Debug, Clone)]
struct Visitor {
    ip: String,
    ids: Vec<String>,
    user_agent: String,
}

fn ipv4() -> impl Strategy<Value = String> {
    (11u8..=254, any::<u8>(), any::<u8>(), 1u8..=254)
        .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}"))
}

fn ipv6() -> impl Strategy<Value = String> {
    (1u16..0xffff, 1u16..0xffff).prop_map(|(x, y)| format!("2001:db8:{x:x}:{y:x}::{x:x}"))
}

fn visitor() -> impl Strategy<Value = Visitor> {
    (
        prop_oneof![
            ipv4(),
            ipv6(),
            (ipv4(), ipv4()).prop_map(|(a, b)| format!("{a}, {b}"))
        ],
        proptest::collection::vec("[a-z0-9]{10,16}", 3),
        ("[A-Za-z0-9]{6,12}", 60u32..130),
    )
        .prop_map(|(ip, ids, (token, v))| Visitor {
            ip,
            ids: ids.into_iter().map(|t| format!("id-{t}")).collect(),
            user_agent: format!(
                "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0 {token}"
            ),
        })
}

/// One event: the identifiers at top level, nested and duplicated, the
/// address in two fields, the identifiers again in the URL's query.
fn event(v: &Visitor, consent: &str) -> String {
    format!(
        r#"{{"type":"page_view","timestamp":"2026-11-24T10:00:00Z","url":"https://news.bbc.co.uk/p?uid={id0}&utm_source=x#{id1}","referrer":"https://www.google.com/?q={id2}","ip":"{ip}","ctx":{{"ip":"{ip}","device_id":"{id1}","n":1}},"user_id":"{id0}","anonymous_id":"{id2}","anonymous_id":"{id1}","user_agent":"{ua}"{consent}}}"#,
        id0 = v.ids[0],
        id1 = v.ids[1],
        id2 = v.ids[2],
        ip = v.ip,
        ua = v.user_agent,
    )
}

fn consent_member(r: Refusal) -> String {
    match r {
        Refusal::Denied => format!(r#","tcString":"{DENIED}""#),
        Refusal::Invalid => r#","tcString":"CPXxRfAPXxRfAAfKABENB""#.into(),
        Refusal::Gpc => format!(r#","tcString":"{GRANTED}","gpc":true"#),
        Refusal::Missing => String::new(),
    }
}

fn config(policy: &str, parquet: bool) -> Config {
    Config::from_lookup(|name| {
        Some(match name {
            "ENRICHMENTS" => "referrer,campaign,fingerprint,user_agent,consent".into(),
            "CONSENT_POLICY" => policy.into(),
            "CONSENT_MISSING" => "deny".into(),
            // The policy alone keeps the values out: the operator's own IP
            // masking (on by default) is off here.
            "ANONYMIZE_IP" => "off".into(),
            "IP_FIELDS" => "ip,ctx.ip".into(),
            "ID_FIELDS" => "user_id,anonymous_id,ctx.device_id".into(),
            "COLUMNS" if parquet => COLUMNS.into(),
            _ => return None,
        })
    })
    .unwrap()
}

/// The values that must not appear: the address (each element of a list)
/// and every identifier and the user agent.
fn secrets(v: &Visitor) -> Vec<String> {
    let mut s: Vec<String> = v.ip.split(", ").map(str::to_owned).collect();
    s.extend(v.ids.iter().cloned());
    // Generated without quotes or backslashes, so its text is the same
    // inside `extra`, where it would be escaped JSON inside a string.
    s.push(v.user_agent.clone());
    s
}

/// Every byte the function answers or logs for one batch, decoded where it
/// is base64.
fn everything(request: &[u8], config: &Config) -> (Value, String) {
    let processed = batch::process(request, config).unwrap();
    let response: Value = serde_json::from_str(&processed.response).unwrap();
    let mut text = processed.response.clone();
    for r in response["records"].as_array().unwrap() {
        if let Some(data) = r["data"].as_str() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap();
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
        text.push_str(&r["metadata"].to_string());
    }
    // Both lines: the default one and the detailed one.
    for detailed in [false, true] {
        text.push_str(&metrics::emf_line(
            &processed.report,
            1.0,
            0,
            "fn",
            detailed,
        ));
    }
    text.push_str(&format!("{:?}", processed.report));
    (response, text)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn no_value_of_a_non_consenting_event_reaches_any_output(
        refusing in proptest::collection::vec((visitor(), prop_oneof![
            Just(Refusal::Denied), Just(Refusal::Invalid), Just(Refusal::Gpc), Just(Refusal::Missing)
        ]), 1..4),
        consenting in proptest::collection::vec(visitor(), 0..3),
        policy in prop_oneof![Just("anonymize"), Just("drop")],
        parquet in any::<bool>(),
    ) {
        let config = config(policy, parquet);
        let mut lines: Vec<String> = refusing.iter().map(|(v, r)| event(v, &consent_member(*r))).collect();
        lines.extend(consenting.iter().map(|v| event(v, &format!(r#","tcString":"{GRANTED}""#))));
        let records: Vec<(&[u8], Value)> = lines.iter().map(|l| (l.as_bytes(), json!(1_795_514_400_000i64))).collect();
        let (response, text) = everything(&common::request(&records), &config);

        for (v, refusal) in &refusing {
            for secret in secrets(v) {
                prop_assert!(!text.contains(&secret), "{refusal:?} {policy}: {secret:?} in the output:\n{text}");
            }
        }
        // The test can fail: the consenting events' values are all there.
        for v in &consenting {
            prop_assert!(text.contains(&v.ids[0]), "a consenting event keeps its identifiers");
            prop_assert!(text.contains(v.ip.split(", ").next().unwrap()));
        }
        let results: Vec<&str> = response["records"].as_array().unwrap().iter().map(|r| r["result"].as_str().unwrap()).collect();
        let refused = if policy == "drop" { "Dropped" } else { "Ok" };
        prop_assert!(results[..refusing.len()].iter().all(|r| *r == refused), "{results:?}");
        prop_assert!(results[refusing.len()..].iter().all(|r| *r == "Ok"), "{results:?}");
    }
}

/// With the policy off, the same scan finds every value: the scan is not
/// blind.
#[test]
fn without_the_policy_the_values_are_all_there() {
    let v = Visitor {
        ip: "203.0.113.77, 198.51.100.9".into(),
        ids: vec![
            "id-aaaaaaaaaa".into(),
            "id-bbbbbbbbbb".into(),
            "id-cccccccccc".into(),
        ],
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0 tok"
            .into(),
    };
    for parquet in [false, true] {
        let line = event(&v, &consent_member(Refusal::Denied));
        let request = common::request(&[(line.as_bytes(), json!(1_795_514_400_000i64))]);
        let (_, text) = everything(&request, &config("off", parquet));
        for secret in secrets(&v) {
            assert!(text.contains(&secret), "{secret:?} (parquet {parquet})");
        }
        let (response, text) = everything(&request, &config("anonymize", parquet));
        assert_eq!(response["records"][0]["result"], "Ok");
        assert!(
            text.contains("203.0.113.0, 198.51.100.0"),
            "masked, element by element"
        );
        assert!(text.contains("Firefox"), "the parsed browser stays");
        assert!(text.contains("utm_source=x"), "campaign parameters stay");
        assert!(text.contains(r#""Consent":{"denied":1,"#), "{text}");
    }
}
