//! `geo_country`, `geo_region`, `geo_city`, `geo_asn`, `geo_as_org`: where
//! the visitor's address is, from a MaxMind DB (`.mmdb`) file, read through
//! the `maxminddb` crate.
//!
//! The address is the first string of `IP_FIELDS` (the collector's `ip`,
//! or whatever the events carry; of a comma list such as
//! `X-Forwarded-For`, the first element, the client). The stage runs
//! before the privacy controls edit anything, and reads the record as
//! received, so `ANONYMIZE_IP`, `DROP_FIELDS` and `HASH_FIELDS` can mask or
//! remove the address while its country is kept.
//!
//! Databases:
//! - by default, the bundled country database (`data/ip-location-db/`,
//!   ip-location-db, CC0 and the NRO's CC BY 4.0), compiled into the
//!   binary: the Lambda artifact carries it and nothing is read or copied
//!   at init;
//! - `GEO_DB`: another location database, e.g. GeoLite2-City or DB-IP Lite
//!   City from a Lambda layer (`/opt/...`), memory-mapped;
//! - `GEO_ASN_DB`: an ASN database (GeoLite2-ASN, DB-IP Lite ASN), for
//!   `geo_asn` and `geo_as_org`.
//!
//! Both record layouts are read: ip-location-db's `{"country_code": "DE"}`
//! and GeoLite2/DB-IP's `{"country": {"iso_code": "DE"}, "subdivisions":
//! [{"iso_code": "BE"}], "city": {"names": {"en": "Berlin"}}}`; ASN records
//! are `{"autonomous_system_number": 3320, "autonomous_system_organization":
//! "..."}`. A missing or unreadable file stops start-up with an error naming
//! its variable; a value that is not an IP address, or an address the
//! database does not know, leaves the fields out.

use super::recent::Recent;
use super::{
    DropReason, Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence, Record,
    Stage,
};
use crate::settings::{ConfigError, Env, FieldPath, Variable};
use maxminddb::Reader;
use serde::Deserialize;
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

/// The accepted form of `GEO_DB` and `GEO_ASN_DB`.
const GEO_DB_FORM: &str =
    "empty, or the path of a readable MaxMind DB file (`.mmdb`), e.g. `/opt/geo/GeoLite2-City.mmdb`";

pub const ENRICHER: Enricher = Enricher {
    name: "geo",
    optional: true,
    summary: "country (and region, city, network where the database has them) from the IP address, before the privacy controls mask it",
    fields: &[
        Field {
            name: "geo_country",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "ISO 3166-1 alpha-2 country code of the address in `IP_FIELDS` (`DE`), from the bundled database or `GEO_DB`",
        },
        Field {
            name: "geo_region",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "ISO 3166-2 subdivision code without the country prefix (`BE` for Berlin), where the `GEO_DB` database has it",
        },
        Field {
            name: "geo_city",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "the city's English name, where the `GEO_DB` database has it",
        },
        Field {
            name: "geo_asn",
            json_type: JsonType::Number,
            athena_type: "bigint",
            presence: Presence::Omitted,
            description: "the autonomous system number of the address's network, with a `GEO_ASN_DB` database",
        },
        Field {
            name: "geo_as_org",
            json_type: JsonType::String,
            athena_type: "string",
            presence: Presence::Omitted,
            description: "the autonomous system's organization, with a `GEO_ASN_DB` database",
        },
    ],
    // It reads `IP_FIELDS` too, the privacy controls' (declared there).
    variables: &[
        Variable {
            name: "GEO_DB",
            default: "",
            form: GEO_DB_FORM,
            meaning: "empty: the bundled country database (ip-location-db, `data/ip-location-db/`). Otherwise the path of a MaxMind DB location database, e.g. GeoLite2-City or DB-IP Lite City from a Lambda layer (`/opt/...`), for `geo_country`, `geo_region` and `geo_city`",
        },
        Variable {
            name: "GEO_ASN_DB",
            default: "",
            form: GEO_DB_FORM,
            meaning: "empty: no `geo_asn`/`geo_as_org`. Otherwise the path of a MaxMind DB ASN database, e.g. GeoLite2-ASN or DB-IP Lite ASN",
        },
    ],
    examples: &[
        Example {
            title: "The country of the collector's address, which is then masked",
            input: r#"{"ip":"8.8.8.8"}"#,
            variables: &[],
            output: Expected::Fields(&[
                ("geo_country", Some(r#""US""#)),
                ("ip", Some(r#""8.8.8.0""#)),
            ]),
        },
        Example {
            title: "Of a forwarded list, the first address: the client's",
            input: r#"{"x_forwarded_for":"8.8.8.8, 10.0.0.1"}"#,
            variables: &[("ANONYMIZE_IP", "off")],
            output: Expected::Fields(&[("geo_country", Some(r#""US""#))]),
        },
        Example {
            title: "A private address has no country",
            input: r#"{"ip":"10.0.0.1"}"#,
            variables: &[],
            output: Expected::Fields(&[("geo_country", None), ("ip", Some(r#""10.0.0.0""#))]),
        },
    ],
    build,
};

/// SHA-256 of the bundled database (`data/ip-location-db/README.md` names
/// its version); a test checks the file against it.
pub const BUNDLED_SHA256: &str = "c5f7c0e9bd6a6ccb5a2e9634764544a0d08bd0bd8788b8aedfac87bea184c652";

static BUNDLED_BYTES: &[u8] =
    include_bytes!("../../data/ip-location-db/geo-whois-asn-country.mmdb");

/// The bundled database, opened on first use: reading its metadata is the
/// only work, the tree and data stay where the binary has them.
static BUNDLED: LazyLock<Result<Reader<&'static [u8]>, String>> =
    LazyLock::new(|| Reader::from_source(BUNDLED_BYTES).map_err(|e| e.to_string()));

/// The bundled database's bytes (for the tests and `schema`'s notes).
pub fn bundled_database() -> &'static [u8] {
    BUNDLED_BYTES
}

/// One open database: the bundled bytes, or a memory-mapped file.
enum Db {
    Bundled(&'static Reader<&'static [u8]>),
    File(Reader<maxminddb::Mmap>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Db::Bundled(_) => f.write_str("Db::Bundled"),
            Db::File(r) => write!(f, "Db::File({})", r.metadata().database_type),
        }
    }
}

/// What a database may hold for an address; every member optional, so one
/// type reads the country, city and ASN layouts alike, and skips the rest.
#[derive(Debug, Default, Deserialize)]
struct Entry<'a> {
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<IsoCode<'a>>>,
    #[serde(borrow, default)]
    city: Option<City<'a>>,
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct City<'a> {
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

/// What the databases say about one address; empty when nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub country: Option<Box<str>>,
    pub region: Option<Box<str>>,
    pub city: Option<Box<str>>,
    pub asn: Option<u32>,
    pub as_org: Option<Box<str>>,
}

impl Db {
    /// The entry for an address; `None` when the database has none, or it
    /// cannot be read (a lookup never fails the record).
    fn entry<T>(&self, ip: IpAddr, read: impl FnOnce(Entry<'_>) -> T) -> Option<T> {
        fn look<S: AsRef<[u8]>, T>(
            r: &Reader<S>,
            ip: IpAddr,
            read: impl FnOnce(Entry<'_>) -> T,
        ) -> Option<T> {
            // An IPv6 address in an IPv4-only database is an error, not a
            // miss; either way the fields are left out.
            let found = r.lookup(ip).ok()?;
            found.decode::<Entry<'_>>().ok().flatten().map(read)
        }
        match self {
            Db::Bundled(r) => look(r, ip, read),
            Db::File(r) => look(r, ip, read),
        }
    }
}

/// Opens a database file named by `variable`, memory-mapped, and checks it
/// answers a lookup: a missing, unreadable or corrupt file is an error
/// naming the variable.
#[allow(unsafe_code)]
fn open(variable: &'static str, path: &str) -> Result<Db, ConfigError> {
    let fail = |why: String| ConfigError {
        variable,
        value: path.to_owned(),
        // Leaked once: the error stops start-up, and the message says why
        // this file was refused.
        expected: Box::leak(format!("{GEO_DB_FORM}; this one: {why}").into_boxed_str()),
    };
    // SAFETY: the file is mapped read-only and must not be modified while
    // the function runs: it comes from the deployment (a Lambda layer under
    // /opt is read-only) or a local path the operator gives.
    let reader = unsafe { Reader::open_mmap(path) }.map_err(|e| fail(e.to_string()))?;
    // A probe: the metadata may parse while the tree or data section is
    // cut short; reading one address walks both.
    let probe = IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1));
    reader
        .lookup(probe)
        .and_then(|r| r.decode::<Entry<'_>>())
        .map_err(|e| fail(e.to_string()))?;
    Ok(Db::File(reader))
}

/// Gives each stage built an id, so the per-thread cache never answers
/// for another database (tests and replay build several).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
struct Geo {
    id: u64,
    fields: Vec<FieldPath>,
    location: Db,
    asn: Option<Db>,
}

fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    let (_, ip_fields) = env.get("IP_FIELDS");
    let fields = if ip_fields.trim().is_empty() {
        Vec::new()
    } else {
        env.fields("IP_FIELDS")?
    };
    let (_, geo_db) = env.get("GEO_DB");
    let location = if geo_db.trim().is_empty() {
        match &*BUNDLED {
            Ok(r) => Db::Bundled(r),
            Err(e) => {
                return Err(ConfigError {
                    variable: "GEO_DB",
                    value: format!("(the bundled database: {e})"),
                    expected: GEO_DB_FORM,
                })
            }
        }
    } else {
        open("GEO_DB", geo_db.trim())?
    };
    let (_, asn_db) = env.get("GEO_ASN_DB");
    let asn = if asn_db.trim().is_empty() {
        None
    } else {
        Some(open("GEO_ASN_DB", asn_db.trim())?)
    };
    Ok(Arc::new(Geo {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        fields,
        location,
        asn,
    }))
}

/// The address in a value: the whole value, or the first element of a
/// comma list (`X-Forwarded-For`: the client, then the proxies), with
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) read as IPv4, as
/// databases store them. `None` when it is not an IP address.
pub fn address(value: &str) -> Option<IpAddr> {
    let first = value.split(',').next()?.trim();
    let ip: IpAddr = first.parse().ok()?;
    Some(ip.to_canonical())
}

/// Whether `ip` can be a visitor's address on the internet: not private
/// (10/8, 172.16/12, 192.168/16, IPv6 unique-local fc00::/7), shared
/// (100.64/10), loopback, link-local, unspecified, broadcast or multicast.
/// Those are never looked up: a database has nothing true to say about
/// them (the bundled one places 192.168/16 and 172.16/12 in Australia,
/// from a registry record). Documentation ranges (192.0.2/24, 2001:db8::/32)
/// are looked up, as test databases use them. Hand-written because
/// `IpAddr::is_global` is not stable Rust.
pub fn routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (b & 0xc0) == 64)
                || a == 0)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

impl Geo {
    /// What the databases say about `ip`, without the cache.
    fn locate(&self, ip: IpAddr) -> Location {
        let text = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(Box::from);
        let mut loc = self
            .location
            .entry(ip, |e| {
                let country = e
                    .country_code
                    .or(e.country.as_ref().and_then(|c| c.iso_code))
                    .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
                    .map(|c| c.to_ascii_uppercase().into_boxed_str());
                let region = e
                    .subdivisions
                    .as_ref()
                    .and_then(|s| s.first())
                    .and_then(|s| s.iso_code);
                let city = e.city.as_ref().and_then(|c| c.names.as_ref()?.en);
                Location {
                    country,
                    region: text(region),
                    city: text(city),
                    // A location database may carry the network too (DB-IP's
                    // combined files); an ASN database's answer wins below.
                    asn: e.autonomous_system_number,
                    as_org: text(e.autonomous_system_organization),
                }
            })
            .unwrap_or_default();
        if let Some(asn) = &self.asn {
            if let Some((number, org)) = asn.entry(ip, |e| {
                (
                    e.autonomous_system_number,
                    text(e.autonomous_system_organization),
                )
            }) {
                loc.asn = number.or(loc.asn);
                loc.as_org = org.or(loc.as_org);
            }
        }
        loc
    }
}

/// Slots of the per-thread cache, a power of two. A batch of a few
/// thousand events comes from a few thousand visitors (`realistic.json`:
/// 1,667 addresses in 5,000 events), and the same visitors send the next
/// batches: with 1,024 slots, direct-mapped, most addresses evicted each
/// other before they came back, and a lookup in the database, cache misses
/// in a few MB, was 12% of a warm batch's time.
pub(crate) const CACHE_SLOTS: usize = 8192;

/// The longest address text the cache keeps (an IPv6 address with an
/// embedded IPv4 one is 45 bytes); longer values are looked up uncached.
const KEY_TEXT: usize = 64;

thread_local! {
    /// The fields written for an address value, by the stage's id and the
    /// value's text: one lookup per distinct address, while a visitor's
    /// page views in a batch cost a hash, a compare and a copy. Keyed by
    /// the text rather than the parsed address, so that a hit parses
    /// nothing (parsing was a third of the stage: callgrind). The id
    /// keeps a swapped database from being answered from another's
    /// entries.
    static CACHE: RefCell<Recent<Box<[u8]>>> = RefCell::new(Recent::new(CACHE_SLOTS));
}

/// Empties this thread's cache (for `bench --cold-cache`).
pub fn clear_cache() {
    CACHE.with_borrow_mut(Recent::clear);
}

fn write(out: &mut Fields, loc: &Location) {
    out.optional("geo_country", loc.country.as_deref());
    out.optional("geo_region", loc.region.as_deref());
    out.optional("geo_city", loc.city.as_deref());
    if let Some(asn) = loc.asn {
        out.number("geo_asn", u64::from(asn));
    }
    out.optional("geo_as_org", loc.as_org.as_deref());
}

impl Stage for Geo {
    fn run<'a>(
        &self,
        record: &Record<'a>,
        _: &mut Facts<'a>,
        out: &mut Fields,
    ) -> Result<(), DropReason> {
        let Some(value) = record.first_string(&self.fields) else {
            return Ok(());
        };
        // The fields this value comes to.
        let fields = |out: &mut Fields| {
            if let Some(ip) = address(&value).filter(|ip| routable(*ip)) {
                write(out, &self.locate(ip));
            }
        };
        if value.len() > KEY_TEXT {
            fields(out);
            return Ok(());
        }
        let mut key = [0u8; 8 + KEY_TEXT];
        key[..8].copy_from_slice(&self.id.to_le_bytes());
        key[8..8 + value.len()].copy_from_slice(value.as_bytes());
        out.write_through(&CACHE, &key[..8 + value.len()], fields);
        Ok(())
    }

    fn active(&self) -> bool {
        !self.fields.is_empty()
    }
}
