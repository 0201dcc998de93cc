//! Whether the AWS SDK will find credentials and a region, checked from the
//! environment and the shared config files alone, before anything is sent.
//!
//! The SDK's default chain looks in the same places, in this order:
//! environment variables, the profile (`AWS_PROFILE`, else `default`) in
//! the shared credentials and config files, web identity
//! (`AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN`), the container
//! endpoint (`AWS_CONTAINER_CREDENTIALS_*`), then the EC2 instance metadata
//! service unless `AWS_EC2_METADATA_DISABLED=true`. Without credentials it
//! fails each call after trying all of them, and a sender that retries
//! would retry a configuration error for minutes. This check names what is
//! missing at once instead. It does not prove the credentials valid (that
//! takes a call); the instance metadata service, the one source that needs
//! the network to be seen, is left to the caller to probe.
//!
//! Pure: the variables and the files' contents come from the caller.

use std::path::{Path, PathBuf};

/// Where credentials and a region were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The credential source, for humans (`environment variables`, …);
    /// `None` when only the instance metadata service is left.
    pub credentials: Option<String>,
    /// `None` when only the instance metadata service is left.
    pub region: Option<String>,
    /// The instance metadata service endpoint (`host:port`), when it is
    /// enabled and still needed for credentials or the region.
    pub imds: Option<String>,
}

/// Checks the standard sources; `Err` is one line naming what is missing.
/// `read` gives a file's text, `None` when there is none.
pub fn check(
    var: impl Fn(&str) -> Option<String>,
    read: impl Fn(&Path) -> Option<String>,
) -> Result<Found, String> {
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let home = var("HOME").or_else(|| var("USERPROFILE"));
    let file = |env: &str, default: &str| -> Option<PathBuf> {
        var(env).map(PathBuf::from).or_else(|| {
            home.as_ref()
                .map(|h| Path::new(h).join(".aws").join(default))
        })
    };
    let credentials_file = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config_file = file("AWS_CONFIG_FILE", "config");
    let profile_name = var("AWS_PROFILE");
    let name = profile_name.as_deref().unwrap_or("default");
    let from_credentials = credentials_file
        .as_deref()
        .and_then(&read)
        .and_then(|text| section(&text, name));
    let from_config = config_file.as_deref().and_then(&read).and_then(|text| {
        section(&text, &format!("profile {name}")).or_else(|| {
            (name == "default")
                .then(|| section(&text, "default"))
                .flatten()
        })
    });
    let shown = |p: &Option<PathBuf>| {
        p.as_deref()
            .map_or("(no HOME)".into(), |p| p.display().to_string())
    };
    if profile_name.is_some() && from_credentials.is_none() && from_config.is_none() {
        return Err(format!(
            "AWS_PROFILE={name} names no profile in {} or {}",
            shown(&credentials_file),
            shown(&config_file)
        ));
    }
    // The credentials file's keys first, as the SDK reads them.
    let profile: Vec<(String, String)> = from_credentials
        .into_iter()
        .flatten()
        .chain(from_config.into_iter().flatten())
        .collect();
    let key = |k: &str| {
        profile
            .iter()
            .find(|(name, v)| name == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let credentials =
        if var("AWS_ACCESS_KEY_ID").is_some() && var("AWS_SECRET_ACCESS_KEY").is_some() {
            Some("environment variables".to_owned())
        } else if (key("aws_access_key_id").is_some() && key("aws_secret_access_key").is_some())
            || [
                "role_arn",
                "credential_process",
                "sso_session",
                "sso_start_url",
                "web_identity_token_file",
            ]
            .iter()
            .any(|k| key(k).is_some())
        {
            Some(format!("profile {name}"))
        } else if var("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() && var("AWS_ROLE_ARN").is_some() {
            Some("web identity (AWS_WEB_IDENTITY_TOKEN_FILE)".to_owned())
        } else if var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
            || var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
        {
            Some("the container credentials endpoint".to_owned())
        } else {
            None
        };
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .or_else(|| key("region"));
    let imds_disabled =
        var("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let imds = (!imds_disabled && (credentials.is_none() || region.is_none())).then(|| {
        imds_endpoint(
            var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                .or_else(|| key("ec2_metadata_service_endpoint")),
            var("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
                .or_else(|| key("ec2_metadata_service_endpoint_mode")),
        )
    });
    if imds.is_none() {
        let missing_credentials = credentials.is_none().then(|| {
            format!(
                "no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile \
                 in {} or {} with AWS_PROFILE)",
                shown(&credentials_file),
                shown(&config_file)
            )
        });
        let missing_region = region.is_none().then(|| {
            format!(
                "no AWS region (set AWS_REGION, or region in profile {name} of {})",
                shown(&config_file)
            )
        });
        let missing: Vec<String> = [missing_credentials, missing_region]
            .into_iter()
            .flatten()
            .collect();
        if !missing.is_empty() {
            return Err(missing.join("; "));
        }
    }
    Ok(Found {
        credentials,
        region,
        imds,
    })
}

/// The metadata service's `host:port`: the configured endpoint, or the
/// IPv4 or IPv6 default.
fn imds_endpoint(endpoint: Option<String>, mode: Option<String>) -> String {
    if let Some(url) = endpoint {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .unwrap_or(&url);
        let authority = rest.split('/').next().unwrap_or(rest);
        let has_port = authority
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && !p.contains(']'));
        return if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
    }
    if mode.is_some_and(|m| m.eq_ignore_ascii_case("ipv6")) {
        "[fd00:ec2::254]:80".into()
    } else {
        "169.254.169.254:80".into()
    }
}

/// The `key = value` lines of `[name]` in an INI-style AWS file; `None`
/// when there is no such section.
fn section(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    let mut inside = false;
    let mut found: Option<Vec<(String, String)>> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.split_whitespace().collect::<Vec<_>>().join(" ");
            inside = header == name;
            if inside {
                found.get_or_insert_with(Vec::new);
            }
            continue;
        }
        if inside {
            if let (Some(pairs), Some((k, v))) = (found.as_mut(), line.split_once('=')) {
                pairs.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    type Files<'a> = &'a [(&'a str, &'a str)];
    type Vars<'a> = &'a [(&'a str, &'a str)];

    fn run(vars: &[(&str, &str)], files: Files) -> Result<Found, String> {
        check(
            |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            },
            |path| {
                files
                    .iter()
                    .find(|(p, _)| Path::new(p) == path)
                    .map(|(_, t)| t.to_string())
            },
        )
    }

    const NO_IMDS: (&str, &str) = ("AWS_EC2_METADATA_DISABLED", "true");
    const HOME: (&str, &str) = ("HOME", "/home/u");

    #[test]
    fn what_is_missing_is_named() {
        // (variables, files, error it starts with)
        let cases: &[(Vars, Files, &str)] = &[
            (&[NO_IMDS, HOME], &[], "no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in /home/u/.aws/credentials or /home/u/.aws/config with AWS_PROFILE); no AWS region (set AWS_REGION, or region in profile default of /home/u/.aws/config)"),
            (&[NO_IMDS, HOME, ("AWS_REGION", "eu-west-1")], &[], "no AWS credentials (set"),
            (&[NO_IMDS, HOME, ("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "s")], &[], "no AWS region (set AWS_REGION"),
            // Half a key pair, or empty values, are no credentials.
            (&[NO_IMDS, HOME, ("AWS_REGION", "r"), ("AWS_ACCESS_KEY_ID", "a")], &[], "no AWS credentials"),
            (&[NO_IMDS, HOME, ("AWS_REGION", "r"), ("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", " ")], &[], "no AWS credentials"),
            (&[NO_IMDS, HOME, ("AWS_REGION", "r"), ("AWS_ROLE_ARN", "arn")], &[], "no AWS credentials"),
            // A named profile that is nowhere.
            (&[NO_IMDS, HOME, ("AWS_PROFILE", "prod")], &[("/home/u/.aws/config", "[profile dev]\nregion = r\n")], "AWS_PROFILE=prod names no profile in /home/u/.aws/credentials or /home/u/.aws/config"),
            // A profile section without credentials.
            (&[NO_IMDS, HOME], &[("/home/u/.aws/config", "[default]\nregion = r\n")], "no AWS credentials"),
            // In the config file, a named profile is `[profile name]`.
            (&[NO_IMDS, HOME, ("AWS_PROFILE", "dev"), ("AWS_REGION", "r")], &[("/home/u/.aws/config", "[dev]\naws_access_key_id = a\naws_secret_access_key = s\n")], "AWS_PROFILE=dev names no profile"),
            (&[NO_IMDS, ("AWS_REGION", "r")], &[], "no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in (no HOME) or (no HOME)"),
        ];
        for (vars, files, want) in cases {
            let err = run(vars, files).unwrap_err();
            assert!(
                err.starts_with(want),
                "{vars:?} {files:?}:\n{err}\nwant {want}"
            );
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn every_standard_source_is_found() {
        let creds = "[default]\naws_access_key_id = a\naws_secret_access_key = s\n";
        // (variables, files, credential source, region)
        let cases: &[(Vars, Files, &str, &str)] = &[
            (
                &[
                    NO_IMDS,
                    ("AWS_ACCESS_KEY_ID", "a"),
                    ("AWS_SECRET_ACCESS_KEY", "s"),
                    ("AWS_REGION", "eu-west-1"),
                ],
                &[],
                "environment variables",
                "eu-west-1",
            ),
            (
                &[
                    NO_IMDS,
                    ("AWS_ACCESS_KEY_ID", "a"),
                    ("AWS_SECRET_ACCESS_KEY", "s"),
                    ("AWS_DEFAULT_REGION", "eu-west-2"),
                ],
                &[],
                "environment variables",
                "eu-west-2",
            ),
            (
                &[NO_IMDS, HOME],
                &[
                    ("/home/u/.aws/credentials", creds),
                    ("/home/u/.aws/config", "[default]\nregion = eu-central-1\n"),
                ],
                "profile default",
                "eu-central-1",
            ),
            (
                &[NO_IMDS, HOME],
                &[(
                    "/home/u/.aws/config",
                    "# c\n[ default ]\nregion=r\naws_access_key_id=a\naws_secret_access_key=s\n",
                )],
                "profile default",
                "r",
            ),
            (
                &[NO_IMDS, HOME, ("AWS_PROFILE", "dev")],
                &[(
                    "/home/u/.aws/config",
                    "[profile dev]\nsso_session = corp\nregion = r\n",
                )],
                "profile dev",
                "r",
            ),
            (
                &[NO_IMDS, HOME, ("AWS_PROFILE", "ci"), ("AWS_REGION", "r")],
                &[(
                    "/home/u/.aws/config",
                    "[profile ci]\nrole_arn = arn\ncredential_source = Environment\n",
                )],
                "profile ci",
                "r",
            ),
            (
                &[NO_IMDS, HOME, ("AWS_PROFILE", "p"), ("AWS_REGION", "r")],
                &[(
                    "/home/u/.aws/config",
                    "[profile p]\ncredential_process = /bin/creds\n",
                )],
                "profile p",
                "r",
            ),
            (
                &[
                    NO_IMDS,
                    ("AWS_SHARED_CREDENTIALS_FILE", "/c"),
                    ("AWS_CONFIG_FILE", "/f"),
                ],
                &[("/c", creds), ("/f", "[default]\nregion = r2\n")],
                "profile default",
                "r2",
            ),
            (
                &[
                    NO_IMDS,
                    ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
                    ("AWS_ROLE_ARN", "arn"),
                    ("AWS_REGION", "r"),
                ],
                &[],
                "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)",
                "r",
            ),
            (
                &[
                    NO_IMDS,
                    ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/c"),
                    ("AWS_REGION", "r"),
                ],
                &[],
                "the container credentials endpoint",
                "r",
            ),
            (
                &[
                    NO_IMDS,
                    ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c"),
                    ("AWS_REGION", "r"),
                ],
                &[],
                "the container credentials endpoint",
                "r",
            ),
        ];
        for (vars, files, source, region) in cases {
            let found = run(vars, files).unwrap_or_else(|e| panic!("{vars:?}: {e}"));
            assert_eq!(found.credentials.as_deref(), Some(*source), "{vars:?}");
            assert_eq!(found.region.as_deref(), Some(*region), "{vars:?}");
            assert_eq!(found.imds, None, "{vars:?}");
        }
    }

    #[test]
    fn the_metadata_service_is_left_to_probe_unless_disabled() {
        // (variables, endpoint to probe)
        let cases: &[(Vars, Option<&str>)] = &[
            (&[], Some("169.254.169.254:80")),
            (
                &[("AWS_EC2_METADATA_DISABLED", "false")],
                Some("169.254.169.254:80"),
            ),
            (&[("AWS_EC2_METADATA_DISABLED", "TRUE")], None),
            (
                &[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")],
                Some("[fd00:ec2::254]:80"),
            ),
            (
                &[(
                    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                    "http://127.0.0.1:1338/",
                )],
                Some("127.0.0.1:1338"),
            ),
            (
                &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://[::1]")],
                Some("[::1]:80"),
            ),
            (
                &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://imds.local")],
                Some("imds.local:80"),
            ),
            // Not needed when the rest is there.
            (
                &[
                    ("AWS_ACCESS_KEY_ID", "a"),
                    ("AWS_SECRET_ACCESS_KEY", "s"),
                    ("AWS_REGION", "r"),
                ],
                None,
            ),
        ];
        for (vars, want) in cases {
            match run(vars, &[]) {
                Ok(found) => assert_eq!(found.imds.as_deref(), *want, "{vars:?}"),
                Err(e) => assert!(
                    want.is_none() && e.starts_with("no AWS credentials"),
                    "{vars:?}: {e}"
                ),
            }
        }
    }
}
