//! Deploying: the overrides that build and deploy share, and the smoke
//! invoke that fails a deploy whose function does not answer `Ok`. The
//! smoke check runs here on what the real function answers locally
//! (`firehose-enricher invoke`), and on the shapes `sam remote invoke`
//! prints.

use std::path::Path;
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploy-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The function's response to a request file, as `invoke` prints it.
fn invoke(request: &str, vars: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_firehose-enricher"))
        .arg("invoke")
        .arg(format!("{ROOT}/{request}"))
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// tools/smoke_check.py on `request` and an answer.
fn smoke_check(request: &str, answer: &str) -> Output {
    let file = tmp(&format!("answer-{:x}.json", {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        answer.hash(&mut h);
        h.finish()
    }));
    std::fs::write(&file, answer).unwrap();
    Command::new("python3")
        .arg(format!("{ROOT}/tools/smoke_check.py"))
        .arg(format!("{ROOT}/{request}"))
        .arg(&file)
        .output()
        .unwrap()
}

#[test]
fn the_smoke_check_passes_only_when_every_record_is_ok() {
    let minimal = invoke("events/minimal.json", &[]);
    let failures = invoke("events/failures.json", &[]);
    // As `sam remote invoke --output json` prints it: the Invoke API's
    // response, the payload a JSON string.
    let wrapped = |payload: &str, error: Option<&str>| {
        let mut v = serde_json::json!({"StatusCode": 200, "Payload": payload});
        if let Some(e) = error {
            v["FunctionError"] = e.into();
        }
        v.to_string()
    };
    let minimal_value: serde_json::Value = serde_json::from_str(&minimal).unwrap();
    let mut renamed = minimal_value.clone();
    renamed["records"][0]["recordId"] = "someone-else".into();
    let mut dropped = minimal_value.clone();
    dropped["records"][0]["result"] = "Dropped".into();
    let cases: Vec<(&str, String, bool)> = vec![
        // --- edge cases first
        ("events/minimal.json", String::new(), false),
        ("events/minimal.json", "not json".into(), false),
        ("events/minimal.json", r#"{"records":[]}"#.into(), false),
        ("events/minimal.json", renamed.to_string(), false),
        ("events/minimal.json", dropped.to_string(), false),
        // The init failure a wrong binary or a rejected value gives.
        (
            "events/minimal.json",
            wrapped(
                r#"{"errorType":"Runtime.InvalidEntrypoint","errorMessage":"exec format error"}"#,
                Some("Unhandled"),
            ),
            false,
        ),
        (
            "events/minimal.json",
            r#"{"errorType":"InvalidFirehoseRequest","errorMessage":"x"}"#.into(),
            false,
        ),
        // Records the function failed.
        ("events/failures.json", failures, false),
        // --- the function's real answers
        ("events/minimal.json", minimal.clone(), true),
        ("events/minimal.json", wrapped(&minimal, None), true),
    ];
    for (request, answer, ok) in cases {
        let out = smoke_check(request, &answer);
        assert_eq!(
            out.status.success(),
            ok,
            "{request} {answer:.200}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !ok {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("FAILED"),
                "a failure says so"
            );
        }
    }
}

/// A configuration the function rejects stops it: the smoke invoke then
/// gets an error, not records, and the deploy fails.
#[test]
fn a_rejected_value_fails_the_function_not_silently() {
    let out = Command::new(env!("CARGO_BIN_EXE_firehose-enricher"))
        .arg("invoke")
        .arg(format!("{ROOT}/events/minimal.json"))
        .env("SITE_ALLOWLIST", "co.uk")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SITE_ALLOWLIST"));
}

#[test]
fn overrides_fail_loudly_and_never_print_nothing() {
    let script = format!("{ROOT}/tools/sam_overrides.py");
    let config = tmp("samconfig.toml");
    std::fs::write(&config, "version = 0.1\n").unwrap();
    // A Python without tomllib (before 3.11) and without tomli: a message
    // and a failure, not an empty line make would take for "no overrides".
    let out = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sys; sys.modules['tomllib'] = None; sys.modules['tomli'] = None; \
             sys.argv = ['sam_overrides.py', {config:?}]; \
             exec(compile(open({script:?}).read(), 'sam_overrides.py', 'exec'), {{'__name__': '__main__'}})"
        ))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("3.11"));
    // A bad architecture, or a file that is not TOML.
    for (toml, why) in [
        (
            "[default.deploy.parameters]\nparameter_overrides = \"Architecture=arm\"\n",
            "Architecture",
        ),
        ("[default\n", "samconfig"),
    ] {
        std::fs::write(&config, toml).unwrap();
        let out = Command::new("python3")
            .arg(&script)
            .arg(&config)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{toml}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{toml}");
    }
    // The Makefile stops rather than deploy without them.
    let out = Command::new("make")
        .args(["-n", "--no-print-directory", "sam-build", "PYTHON=false"])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sam_overrides.py failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The stack and region for the smoke invoke.
    std::fs::write(
        &config,
        "[default.global.parameters]\nstack_name = \"a\"\n[default.deploy.parameters]\nregion = \"eu-west-1\"\n",
    )
    .unwrap();
    for (key, want) in [
        ("stack_name", "a"),
        ("region", "eu-west-1"),
        ("nothing", ""),
    ] {
        let out = Command::new("python3")
            .arg(&script)
            .args(["--get", key])
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want);
    }
}
