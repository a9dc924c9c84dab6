//! This process's TLS as a client of `https://` upstreams, and the address it dials to reach
//! itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Context;
use pake_core::config::{Config, ServiceRole};

/// Installs the process's client TLS (`tls.ca_file`, client certificate) for `https://`
/// upstreams and returns the scheme of this process's own address. A TLS server calls itself
/// (JWKS; in the all-in-one also the feed) where identity runs here, so it then needs the
/// client settings.
pub(super) fn tls_setup(config: &Config, role: ServiceRole) -> anyhow::Result<&'static str> {
    install_client_tls(config)?;
    let tls = &config.tls;
    if !tls.serves_tls() {
        return Ok("http");
    }
    if role.runs(ServiceRole::Identity) {
        anyhow::ensure!(
            tls.ca_file.is_some(),
            "tls.ca_file: required with tls.cert_file when `{}` runs here (the process calls its own \
             TLS address; the certificate must also name that address)",
            role.as_str()
        );
        anyhow::ensure!(
            tls.client_ca_file.is_none() || tls.client_cert_file.is_some(),
            "tls.client_cert_file: required with tls.client_ca_file when `{}` runs here (the \
             process calls its own mTLS address)",
            role.as_str()
        );
    }
    Ok("https")
}

/// The client TLS of every `https://` upstream this process calls (`tls.ca_file`, client
/// certificate), when configured.
pub(super) fn install_client_tls(config: &Config) -> anyhow::Result<()> {
    if let Some(client) = pake_runtime::tls::ClientTls::from_config(&config.tls).context("tls")? {
        pake_runtime::tls::set_client_tls(Some(client));
    }
    Ok(())
}

/// The address to dial to reach a listener bound to `addr` (wildcards become loopback).
pub(super) fn dialable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}
