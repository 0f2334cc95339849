//! The UDP socket: where it binds, and the address announced to peers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use super::RtcConfig;
use crate::error::{Error, Result};

/// Bind the UDP socket: the configured port, else next to HTTP's.
pub(crate) fn bind(config: &RtcConfig, http: SocketAddr) -> Result<UdpSocket> {
    let port = config.udp_port.unwrap_or(match http.port() {
        0 => 0,
        p => p.checked_add(1).unwrap_or(0),
    });
    let addr = SocketAddr::new(http.ip(), port);
    let socket = match UdpSocket::bind(addr) {
        Ok(s) => s,
        Err(e) if config.udp_port.is_none() && port != 0 => {
            tracing::warn!("WebRTC: udp {addr} is taken ({e}); using any free port");
            UdpSocket::bind(SocketAddr::new(http.ip(), 0))?
        }
        Err(e) => {
            return Err(Error::from(e).context(format!("cannot bind WebRTC udp {addr}")));
        }
    };
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// The address peers should send to.
pub(crate) fn announced_ip(config: &RtcConfig, bound: IpAddr) -> IpAddr {
    if let Some(ip) = config.public_ip {
        return ip;
    }
    if !bound.is_unspecified() {
        return bound;
    }
    // Listening everywhere: announce the address of the default route
    // (found without sending anything), or loopback without a network.
    let probe = || -> Option<IpAddr> {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
        s.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
        Some(s.local_addr().ok()?.ip())
    };
    probe()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_defaults_next_to_http() {
        let cfg = RtcConfig::default();
        let s = bind(&cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(s.local_addr().unwrap().port(), 0);
        assert_eq!(
            announced_ip(&cfg, "127.0.0.1".parse().unwrap()),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        let public = RtcConfig {
            public_ip: Some("203.0.113.7".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(
            announced_ip(&public, "0.0.0.0".parse().unwrap()).to_string(),
            "203.0.113.7"
        );
    }
}
