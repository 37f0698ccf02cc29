//! coturn's version and the options each version accepts.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// `4.6.1`, `4.6.1-1` (Debian), `4.5.2.1`, `Coturn-4.6.1 'Gorst'`: the first dotted number wins.
    pub fn parse(text: &str) -> Option<Version> {
        let start = text.find(|c: char| c.is_ascii_digit())?;
        let mut parts = text[start..]
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .next()?
            .split('.')
            .map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Version::new(major, minor, patch))
    }

    /// `no-tlsv1`/`no-tlsv1_1` exist up to 4.6; 4.7.0 removed the TLS version switches
    /// and turned TLS 1.0/1.1 off by default (coturn PRs #1617, #1693).
    pub fn has_tls_version_switches(self) -> bool {
        self < Version::new(4, 7, 0)
    }

    /// 4.7.0 made hiding SOFTWARE the default and dropped `--prod` (coturn PR #1599);
    /// before, `no-software-attribute` hides the version from scanners.
    pub fn needs_no_software_attribute(self) -> bool {
        self < Version::new(4, 7, 0)
    }

    /// The telnet CLI is on by default until 4.10, where it became opt-in and `no-cli`
    /// only logs a deprecation error (coturn PR #1830).
    pub fn needs_no_cli(self) -> bool {
        self < Version::new(4, 10, 0)
    }

    /// DTLS went away in later releases, making `no-dtls` an unknown option.
    pub fn has_dtls(self) -> bool {
        self < Version::new(4, 17, 0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_turnserver_and_packages_print() {
        assert_eq!(Version::parse("4.6.1"), Some(Version::new(4, 6, 1)));
        assert_eq!(Version::parse("4.6.1-1"), Some(Version::new(4, 6, 1)));
        assert_eq!(
            Version::parse("Coturn-4.5.2.1 'dan Eider'"),
            Some(Version::new(4, 5, 2))
        );
        assert_eq!(Version::parse("4.7"), Some(Version::new(4, 7, 0)));
        assert_eq!(Version::parse("latest"), None);
    }

    #[test]
    fn debian_bookworm_keeps_old_switches_and_47_drops_them() {
        let bookworm = Version::new(4, 6, 1);
        assert!(bookworm.has_tls_version_switches() && bookworm.needs_no_cli());
        let new = Version::new(4, 7, 0);
        assert!(!new.has_tls_version_switches() && !new.needs_no_software_attribute());
        assert!(new.needs_no_cli());
        assert!(!Version::new(4, 10, 0).needs_no_cli());
    }
}
