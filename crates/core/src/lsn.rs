//! WAL positions: PostgreSQL prints them as `X/Y`, Patroni stores them as plain byte counts.

/// Formats a byte position the way PostgreSQL and Patroni print an LSN (`%X/%X`, upper case).
pub fn format_lsn(pos: u64) -> String {
    format!("{:X}/{:X}", pos >> 32, pos & 0xFFFF_FFFF)
}

/// Parses `X/Y` into a byte position; `None` when it is not an LSN.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    if hi > u32::MAX as u64 || lo > u32::MAX as u64 {
        return None;
    }
    Some((hi << 32) | lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(format_lsn(67139592), "0/4007808");
        assert_eq!(parse_lsn("0/4007808"), Some(67139592));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(parse_lsn("nope"), None);
        assert_eq!(parse_lsn("0/G"), None);
    }
}
