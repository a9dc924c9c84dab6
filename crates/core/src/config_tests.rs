//! Layering and validation of [`Config`].

#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error.

use super::*;
use figment::Jail;

fn load_in(jail: &mut Jail, file: Option<&str>, overrides: &Overrides) -> Result<Config, String> {
    let _ = jail;
    Config::load(file.map(Path::new), overrides).map_err(|e| e.to_string())
}

#[test]
fn defaults_are_the_embedded_all_in_one() {
    Jail::expect_with(|jail| {
        let config = load_in(jail, None, &Overrides::default())?;
        assert_eq!(config.grpc_listen, "127.0.0.1:50051");
        assert_eq!(config.data_dir, PathBuf::from("pake-data"));
        assert!(config.database_url.is_none());
        Ok(())
    });
}

#[test]
fn layers_apply_in_order_file_env_flags() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "pake.toml",
            "grpc_listen = \"127.0.0.1:1\"\ndata_dir = \"/from/file\"\n[log]\nformat = \"json\"\n",
        )?;
        jail.set_env("PAKE_DATA_DIR", "/from/env");
        jail.set_env("PAKE_LOG__FILTER", "debug");
        let overrides = Overrides {
            grpc_listen: Some("127.0.0.1:3".into()),
            ..Overrides::default()
        };
        let config = load_in(jail, Some("pake.toml"), &overrides)?;
        assert_eq!(config.grpc_listen, "127.0.0.1:3", "flag beats file");
        assert_eq!(
            config.data_dir,
            PathBuf::from("/from/env"),
            "env beats file"
        );
        assert_eq!(config.log.format, LogFormat::Json, "file beats default");
        assert_eq!(config.log.filter, "debug");
        Ok(())
    });
}

#[test]
fn config_file_can_come_from_the_environment() {
    Jail::expect_with(|jail| {
        jail.create_file("other.toml", "grpc_listen = \"127.0.0.1:7\"\n")?;
        jail.set_env("PAKE_CONFIG", "other.toml");
        let config = load_in(jail, None, &Overrides::default())?;
        assert_eq!(config.grpc_listen, "127.0.0.1:7");
        Ok(())
    });
}

#[test]
fn bad_listen_address_names_the_setting_and_its_source() {
    Jail::expect_with(|jail| {
        jail.set_env("PAKE_GRPC_LISTEN", "localhost");
        let error = load_in(jail, None, &Overrides::default()).expect_err("must fail");
        assert!(
            error.contains("grpc_listen: 'localhost' is not a socket address"),
            "{error}"
        );
        assert!(error.contains("PAKE_"), "source named: {error}");
        Ok(())
    });
}

#[test]
fn every_problem_is_reported_at_once() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "pake.toml",
            "grpc_listen = \"nope\"\ndatabase_url = \"mysql://x\"\n[shutdown]\ndrain_timeout_secs = 0\n",
        )?;
        let error = load_in(jail, Some("pake.toml"), &Overrides::default()).expect_err("must fail");
        assert!(error.contains("grpc_listen:"), "{error}");
        assert!(error.contains("database_url: must start with"), "{error}");
        assert!(
            error.contains("shutdown.drain_timeout_secs: 0 is out of range"),
            "{error}"
        );
        assert!(!error.contains("mysql://x"), "secret value leaked: {error}");
        Ok(())
    });
}

#[test]
fn unknown_keys_and_wrong_types_are_errors() {
    Jail::expect_with(|jail| {
        jail.create_file("typo.toml", "grpc_lisen = \"127.0.0.1:1\"\n")?;
        let error = load_in(jail, Some("typo.toml"), &Overrides::default()).expect_err("typo");
        assert!(
            error.contains("unknown field") && error.contains("grpc_lisen"),
            "{error}"
        );

        jail.create_file("type.toml", "[shutdown]\ndrain_timeout_secs = \"soon\"\n")?;
        let error = load_in(jail, Some("type.toml"), &Overrides::default()).expect_err("type");
        assert!(error.contains("shutdown.drain_timeout_secs"), "{error}");

        jail.set_env("PAKE_LOG__FORMAT", "xml");
        let error = load_in(jail, None, &Overrides::default()).expect_err("enum");
        assert!(
            error.contains("log.format") && error.contains("xml"),
            "{error}"
        );
        Ok(())
    });
}

#[test]
fn missing_config_file_is_reported() {
    Jail::expect_with(|jail| {
        let error = load_in(jail, Some("absent.toml"), &Overrides::default()).expect_err("missing");
        assert!(
            error.contains("config file absent.toml: not found"),
            "{error}"
        );
        Ok(())
    });
}

#[test]
fn test_environment_variables_are_not_configuration() {
    Jail::expect_with(|jail| {
        jail.set_env("PAKE_TEST_DATABASE_URL", "postgres://localhost/test");
        load_in(jail, None, &Overrides::default())?;
        Ok(())
    });
}

#[test]
fn single_services_need_their_upstreams() {
    let config = Config::default();
    assert!(config.validate_for(ServiceRole::All).is_ok());
    assert!(config.validate_for(ServiceRole::Identity).is_ok());
    let error = config
        .validate_for(ServiceRole::Search)
        .expect_err("search alone")
        .to_string();
    assert!(
        error.contains("upstream.identity: required when running `search` alone"),
        "{error}"
    );
    assert!(error.contains("--knowledge-url"), "{error}");
    assert!(error.contains("PAKE_UPSTREAM__KNOWLEDGE"), "{error}");
}

#[test]
fn secrets_do_not_print() {
    let secret = SecretString::new("postgres://user:hunter2@db/pake");
    assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
}

#[test]
fn metrics_listen_layers_and_is_validated() {
    Jail::expect_with(|jail| {
        let config = load_in(jail, None, &Overrides::default())?;
        assert_eq!(config.metrics_listen, DEFAULT_METRICS_LISTEN);
        jail.set_env("PAKE_METRICS_LISTEN", "0.0.0.0:9100");
        let config = load_in(jail, None, &Overrides::default())?;
        assert_eq!(config.metrics_listen, "0.0.0.0:9100");
        let flag = Overrides {
            metrics_listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        };
        assert_eq!(load_in(jail, None, &flag)?.metrics_listen, "127.0.0.1:0");
        jail.set_env("PAKE_METRICS_LISTEN", "localhost:9464");
        let error = load_in(jail, None, &Overrides::default()).expect_err("must fail");
        assert!(
            error.contains("metrics_listen: 'localhost:9464' is not a socket address"),
            "{error}"
        );
        assert!(error.contains("PAKE_"), "source named: {error}");
        Ok(())
    });
}

#[test]
fn trusted_proxies_take_addresses_and_ranges_and_name_a_bad_entry() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "pake.toml",
            "trusted_proxies = [\"127.0.0.6\", \"10.0.0.0/8\", \"fd00::/8\"]\n",
        )?;
        let config = load_in(jail, Some("pake.toml"), &Overrides::default()).expect("valid");
        assert_eq!(config.trusted_proxies.len(), 3);
        jail.create_file(
            "bad.toml",
            "trusted_proxies = [\"10.0.0.1\", \"kong.internal\"]\n",
        )?;
        let error = load_in(jail, Some("bad.toml"), &Overrides::default()).expect_err("bad");
        assert!(
            error
                .contains("trusted_proxies[1]: 'kong.internal' is not an IP address or CIDR range"),
            "{error}"
        );
        Ok(())
    });
}
