//! Memory sizes as each tool writes them. The same suffix means different
//! things: `512M` is 512 MiB to docker, compose and systemd, but 512 MB to
//! Kubernetes, where `512m` is half a byte and `512Mi` is 512 MiB.

/// Docker's and compose's `--memory`/`mem_limit` (go-units `RAMInBytes`):
/// `b`, `k`, `m`, `g`, `t`, `p`, any case, optionally followed by `i` and
/// `b`, all powers of 1024; a bare number is bytes.
pub fn docker_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits_end);
    let number: f64 = number.parse().ok()?;
    let suffix = suffix.trim().to_ascii_lowercase();
    let unit = suffix.trim_end_matches('b').trim_end_matches('i');
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return None,
    };
    Some((number * 1024f64.powi(power)) as u64)
}

/// systemd's `MemoryMax=`: `K`, `M`, `G`, `T` are powers of 1024; a bare
/// number is bytes. Percentages and `infinity` are not sizes.
pub fn systemd_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.ends_with('%') || text == "infinity" {
        return None;
    }
    docker_bytes(text)
}

/// A Kubernetes `resource.Quantity`: decimal suffixes (`k`, `M`, `G`, `T`,
/// `P`, `E`, and `m` for milli), binary ones (`Ki` … `Ei`), or an exponent.
pub fn kubernetes_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => 10f64.powi(exponent[1..].parse().ok()?),
        _ => return None,
    };
    let bytes = number * factor;
    (bytes >= 0.0).then_some(bytes.ceil() as u64)
}

/// A number for messages, as people write it: `3.3`, `0.25`, `10`, never
/// `3.3333333333333335`.
pub fn number(value: f64) -> String {
    let decimals = if value.abs() >= 1.0 { 1 } else { 2 };
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A size for messages: `512 MiB`, `1.5 GiB`.
pub fn describe(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(number(10.0 / 3.0), "3.3");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(10.0), "10");
        assert_eq!(number(2.5), "2.5");
    }

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn docker_suffixes_are_binary_in_any_case() {
        for text in ["512M", "512m", "512MB", "512mib", "512 M"] {
            assert_eq!(docker_bytes(text), Some(512 * MIB), "{text}");
        }
        assert_eq!(docker_bytes("1g"), Some(1024 * MIB));
        assert_eq!(docker_bytes("1073741824"), Some(1024 * MIB));
        assert_eq!(docker_bytes("lots"), None);
    }

    #[test]
    fn kubernetes_suffixes_are_decimal_or_binary_and_m_is_milli() {
        assert_eq!(kubernetes_bytes("512Mi"), Some(512 * MIB));
        assert_eq!(kubernetes_bytes("512M"), Some(512_000_000));
        assert_eq!(kubernetes_bytes("1G"), Some(1_000_000_000));
        assert_eq!(kubernetes_bytes("1Gi"), Some(1024 * MIB));
        assert_eq!(kubernetes_bytes("512m"), Some(1));
        assert_eq!(kubernetes_bytes("1e9"), Some(1_000_000_000));
        assert_eq!(kubernetes_bytes("1.5Gi"), Some(1536 * MIB));
    }

    #[test]
    fn systemd_percentages_and_infinity_are_not_sizes() {
        assert_eq!(systemd_bytes("512M"), Some(512 * MIB));
        assert_eq!(systemd_bytes("50%"), None);
        assert_eq!(systemd_bytes("infinity"), None);
    }
}
