//! Parsing of the human-readable units operators write: `"30s"`, `"10MiB"`, CIDRs.

use std::time::Duration;

pub fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration {text:?} ({e}); write it like \"30s\", \"500ms\" or \"5m\"")
    })
}

pub fn size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| {
            format!("invalid size {text:?}; write it like \"10MiB\", \"64KiB\" or \"1048576\"")
        })
}

pub fn cidr(text: &str) -> Result<ipnet::IpNet, String> {
    let t = text.trim();
    if let Ok(net) = t.parse::<ipnet::IpNet>() {
        return Ok(net);
    }
    t.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| {
            format!(
                "invalid address or CIDR {text:?}; write it like \"10.0.0.0/8\" or \"127.0.0.1\""
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(duration("30 parsecs").is_err());
        assert_eq!(size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(size("64 KiB"), Ok(64 * 1024));
        assert_eq!(size("1048576"), Ok(1_048_576));
        assert!(size("lots").is_err());
        assert!(cidr("10.0.0.0/8").is_ok());
        assert_eq!(cidr("127.0.0.1").map(|n| n.prefix_len()), Ok(32));
        assert!(cidr("10.0.0.0/99").is_err());
    }
}
