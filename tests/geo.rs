//! The geo enricher end to end: test databases written by `mmdb` (both
//! record layouts and an ASN database), read through `GEO_DB` and
//! `GEO_ASN_DB`, and the bundled country database.

mod common;
#[path = "common/mmdb.rs"]
mod mmdb;

use common::{config, enriched};
use firehose_enricher::Config;
use mmdb::V;
use serde_json::Value;
use std::path::PathBuf;

/// A file under the target directory's temporary folder, unique per test.
fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("geo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn city(country: &'static str, region: &'static str, name: &'static str) -> V {
    V::Map(vec![
        (
            "city",
            V::Map(vec![
                ("geoname_id", V::U32(2_950_159)),
                (
                    "names",
                    V::Map(vec![("de", V::Str("Stadt")), ("en", V::Str(name))]),
                ),
            ]),
        ),
        (
            "country",
            V::Map(vec![
                ("iso_code", V::Str(country)),
                ("names", V::Map(vec![("en", V::Str("Country"))])),
            ]),
        ),
        (
            "subdivisions",
            V::Arr(vec![V::Map(vec![("iso_code", V::Str(region))])]),
        ),
    ])
}

/// A GeoLite2-City-shaped database and a GeoLite2-ASN-shaped one.
fn city_and_asn() -> (PathBuf, PathBuf) {
    let cities = mmdb::database(
        "GeoLite2-City",
        &[
            ("192.0.2.0/24", city("DE", "BE", "Berlin")),
            ("198.51.100.0/25", city("FR", "IDF", "Paris")),
            // Country only, ip-location-db's layout.
            (
                "203.0.113.0/24",
                V::Map(vec![("country_code", V::Str("JP"))]),
            ),
            ("2001:db8::/32", city("AT", "9", "Vienna")),
            // A city with a quote in its name: written escaped.
            ("2001:db9::/32", city("US", "NY", "Quote \"Town\"")),
        ],
    );
    let asns = mmdb::database(
        "GeoLite2-ASN",
        &[
            (
                "192.0.2.0/24",
                V::Map(vec![
                    ("autonomous_system_number", V::U32(3320)),
                    (
                        "autonomous_system_organization",
                        V::Str("Deutsche Telekom AG"),
                    ),
                ]),
            ),
            (
                "2001:db8::/32",
                V::Map(vec![
                    ("autonomous_system_number", V::U32(4_200_000_000)),
                    ("autonomous_system_organization", V::Str("Private Use")),
                ]),
            ),
        ],
    );
    (write("city.mmdb", &cities), write("asn.mmdb", &asns))
}

/// The geo fields of a record's output, as one object.
fn geo(input: &str, config: &Config) -> Value {
    let out = enriched(input, config);
    let mut fields = serde_json::Map::new();
    for (k, v) in out.as_object().unwrap() {
        if k.starts_with("geo_") {
            fields.insert(k.clone(), v.clone());
        }
    }
    Value::Object(fields)
}

#[test]
fn addresses_are_located_in_both_layouts_and_the_asn_database() {
    let (cities, asns) = city_and_asn();
    let c = config(&[
        ("GEO_DB", cities.to_str().unwrap()),
        ("GEO_ASN_DB", asns.to_str().unwrap()),
    ]);
    let berlin = serde_json::json!({"geo_country":"DE","geo_region":"BE","geo_city":"Berlin","geo_asn":3320,"geo_as_org":"Deutsche Telekom AG"});
    let none = serde_json::json!({});
    let cases: &[(&str, Value)] = &[
        // --- edge cases: no address, or not an address ---
        (r#"{}"#, none.clone()),
        (r#"{"ip":null}"#, none.clone()),
        (r#"{"ip":""}"#, none.clone()),
        (r#"{"ip":"unknown"}"#, none.clone()),
        (r#"{"ip":"192.0.2"}"#, none.clone()),
        (r#"{"ip":"192.0.2.1:443"}"#, none.clone()),
        (r#"{"ip":"999.0.2.1"}"#, none.clone()),
        (r#"{"ip":42}"#, none.clone()),
        (r#"{"ip":["192.0.2.1"]}"#, none.clone()),
        // --- misses: private, documentation ranges the database lacks ---
        (r#"{"ip":"10.0.0.1"}"#, none.clone()),
        (r#"{"ip":"192.0.3.1"}"#, none.clone()),
        (r#"{"ip":"198.51.100.200"}"#, none.clone()),
        (r#"{"ip":"::1"}"#, none.clone()),
        (r#"{"ip":"2001:dba::1"}"#, none.clone()),
        // --- IPv4 ---
        (r#"{"ip":"192.0.2.1"}"#, berlin.clone()),
        (r#"{"ip":" 192.0.2.255 "}"#, berlin.clone()),
        (
            r#"{"ip":"198.51.100.7"}"#,
            serde_json::json!({"geo_country":"FR","geo_region":"IDF","geo_city":"Paris"}),
        ),
        (
            r#"{"ip":"203.0.113.9"}"#,
            serde_json::json!({"geo_country":"JP"}),
        ),
        // --- IPv4-mapped IPv6: read as the IPv4 address ---
        (r#"{"ip":"::ffff:192.0.2.1"}"#, berlin.clone()),
        (r#"{"ip":"::ffff:c000:0201"}"#, berlin.clone()),
        // --- IPv6 ---
        (
            r#"{"ip":"2001:db8::1"}"#,
            serde_json::json!({"geo_country":"AT","geo_region":"9","geo_city":"Vienna","geo_asn":4_200_000_000u32,"geo_as_org":"Private Use"}),
        ),
        (
            r#"{"ip":"2001:DB8:ffff::"}"#,
            serde_json::json!({"geo_country":"AT","geo_region":"9","geo_city":"Vienna","geo_asn":4_200_000_000u32,"geo_as_org":"Private Use"}),
        ),
        (
            r#"{"ip":"2001:db9::5"}"#,
            serde_json::json!({"geo_country":"US","geo_region":"NY","geo_city":"Quote \"Town\""}),
        ),
        // --- where the address is: the first of IP_FIELDS, the first of a list ---
        (
            r#"{"x_forwarded_for":"192.0.2.1, 10.0.0.1"}"#,
            berlin.clone(),
        ),
        (r#"{"x_forwarded_for":"10.0.0.1, 192.0.2.1"}"#, none.clone()),
        (
            r#"{"ip":"192.0.2.1","client_ip":"203.0.113.9"}"#,
            berlin.clone(),
        ),
        (r#"{"ip":7,"client_ip":"192.0.2.1"}"#, berlin.clone()),
    ];
    for (input, want) in cases {
        assert_eq!(&geo(input, &c), want, "{input}");
        // The same again: the per-thread cache answers as the database.
        assert_eq!(&geo(input, &c), want, "{input}, cached");
    }
}

#[test]
fn a_swapped_database_answers_for_itself() {
    let a = write(
        "swap-a.mmdb",
        &mmdb::database(
            "A",
            &[("192.0.2.0/24", V::Map(vec![("country_code", V::Str("DE"))]))],
        ),
    );
    let b = write(
        "swap-b.mmdb",
        &mmdb::database(
            "B",
            &[("192.0.2.0/24", V::Map(vec![("country_code", V::Str("NL"))]))],
        ),
    );
    let input = r#"{"ip":"192.0.2.10"}"#;
    let first = config(&[("GEO_DB", a.to_str().unwrap())]);
    let second = config(&[("GEO_DB", b.to_str().unwrap())]);
    // Alternating in one thread: each configuration reads its own file,
    // never the other's cached answer.
    for _ in 0..2 {
        assert_eq!(geo(input, &first)["geo_country"], "DE");
        assert_eq!(geo(input, &second)["geo_country"], "NL");
    }
}

#[test]
fn a_missing_or_corrupt_database_stops_start_up_naming_its_variable() {
    let valid = mmdb::database(
        "A",
        &[("192.0.2.0/24", V::Map(vec![("country_code", V::Str("DE"))]))],
    );
    let cut = write("cut.mmdb", &valid[..valid.len() / 3]);
    let mut bad_tree = valid.clone();
    // Tree records pointing far past the data section.
    for b in bad_tree.iter_mut().take(64) {
        *b = 0xff;
    }
    let bad_tree = write("bad-tree.mmdb", &bad_tree);
    let empty = write("empty.mmdb", b"");
    let text = write("text.mmdb", b"not a database\n");
    let missing = std::env::temp_dir().join("no-such-dir/GeoLite2-City.mmdb");
    for variable in ["GEO_DB", "GEO_ASN_DB"] {
        for path in [&missing, &empty, &text, &cut, &bad_tree] {
            let path = path.to_str().unwrap();
            let err = Config::from_lookup(|n| (n == variable).then(|| path.to_owned()))
                .expect_err(&format!("{variable}={path} must be rejected"));
            assert_eq!(err.variable, variable);
            let msg = err.to_string();
            assert!(msg.contains(variable) && msg.contains(path), "{msg}");
            assert!(msg.contains("MaxMind DB"), "{msg}");
        }
    }
    // Without the enricher, the variables are not read.
    let off = Config::from_lookup(|n| match n {
        "ENRICHMENTS" => Some("referrer".into()),
        "GEO_DB" => Some(missing.to_str().unwrap().into()),
        _ => None,
    });
    assert!(off.is_ok());
}

#[test]
fn the_bundled_database_is_the_pinned_file() {
    use sha2::Digest;
    let bytes = firehose_enricher::enrich::geo::bundled_database();
    let digest = sha2::Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, firehose_enricher::enrich::geo::BUNDLED_SHA256);
    let on_disk = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/ip-location-db/geo-whois-asn-country.mmdb"
    ))
    .unwrap();
    assert!(on_disk == bytes, "the binary embeds the vendored file");
}

#[test]
fn the_bundled_database_gives_countries_by_default() {
    let c = Config::default();
    assert!(c.pipeline.enabled().contains(&"geo"));
    let cases: &[(&str, Option<&str>)] = &[
        // --- edge cases: addresses that never reach the internet, which
        // the database would place (192.168/16 and 172.16/12 in AU) ---
        ("10.1.2.3", None),
        ("127.0.0.1", None),
        ("fe80::1", None),
        ("192.168.1.20", None),
        ("172.16.5.4", None),
        ("172.31.255.255", None),
        ("100.64.1.1", None),
        ("169.254.169.254", None),
        ("0.0.0.0", None),
        ("255.255.255.255", None),
        ("224.0.0.1", None),
        ("::", None),
        ("::1", None),
        ("fd12:3456::1", None),
        ("ff02::1", None),
        ("::ffff:192.168.1.20", None),
        // --- just outside those ranges ---
        ("172.32.0.1", Some("US")),
        ("100.128.0.1", Some("US")),
        ("8.8.8.8", Some("US")),
        ("::ffff:8.8.8.8", Some("US")),
        ("2001:4860:4860::8888", Some("US")),
        ("193.0.6.139", Some("NL")),
    ];
    for (ip, want) in cases {
        let input = format!(r#"{{"ip":"{ip}"}}"#);
        let out = enriched(&input, &c);
        assert_eq!(out["geo_country"].as_str(), *want, "{ip}");
        for field in ["geo_region", "geo_city", "geo_asn", "geo_as_org"] {
            assert!(
                out.get(field).is_none(),
                "{ip}: a country database has no {field}"
            );
        }
    }
}

/// The recommended profile, which is also the default: the country is read
/// from the full address, and the address written masked.
#[test]
fn the_country_is_kept_while_the_address_is_masked_or_dropped() {
    let input = r#"{"ip":"8.8.8.8","x_forwarded_for":"8.8.4.4, 10.0.0.1"}"#;
    let out = enriched(input, &Config::default());
    assert_eq!(out["geo_country"], "US");
    assert_eq!(out["ip"], "8.8.8.0");
    assert_eq!(out["x_forwarded_for"], "8.8.4.0, 10.0.0.0");
    let dropped = enriched(input, &config(&[("DROP_FIELDS", "ip,x_forwarded_for")]));
    assert_eq!(dropped["geo_country"], "US");
    assert!(dropped.get("ip").is_none() && dropped.get("x_forwarded_for").is_none());
    let hashed = enriched(
        input,
        &config(&[
            ("HASH_FIELDS", "ip"),
            ("HASH_KEY", "k3y-of-at-least-thirty-two-bytes!!"),
        ]),
    );
    assert_eq!(hashed["geo_country"], "US");
    assert_eq!(hashed["ip"].as_str().unwrap().len(), 64);
    // Opting out keeps the address as received.
    let kept = enriched(input, &config(&[("ANONYMIZE_IP", "off")]));
    assert_eq!(kept["ip"], "8.8.8.8");
    assert_eq!(kept["geo_country"], "US");
}
