//! The three timing parameters and the rule Patroni enforces between them.

/// `ttl`, `loop_wait` and `retry_timeout` after Patroni's minimums and consistency rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Lifetime of the leader lock and member keys, seconds.
    pub ttl: u32,
    /// Period of the HA loop, seconds.
    pub loop_wait: u32,
    /// Budget for retrying DCS and PostgreSQL operations, seconds.
    pub retry_timeout: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            ttl: 30,
            loop_wait: 10,
            retry_timeout: 10,
        }
    }
}

impl Timing {
    /// Applies the minimums (ttl 20, loop_wait 1, retry_timeout 3) and the rule
    /// `loop_wait + 2*retry_timeout <= ttl` exactly as upstream does, so a huge `loop_wait`
    /// from `/config` is brought back to `ttl - 2*retry_timeout` rather than stopping the loop.
    /// Arithmetic saturates: a value beyond what fits is as large as it can be, never wrapped.
    /// Returns the adjusted timing and the warnings to log.
    pub fn enforce(ttl: i64, loop_wait: i64, retry_timeout: i64) -> (Timing, Vec<String>) {
        let mut warnings = Vec::new();
        let max = i64::from(u32::MAX);
        let mut clamp = |name: &str, value: i64, min: i64| {
            if value < min {
                warnings.push(format!(
                    "{name}={value} can't be smaller than {min}, adjusting..."
                ));
                min
            } else {
                value.min(max)
            }
        };
        let ttl = clamp("ttl", ttl, 20);
        let mut loop_wait = clamp("loop_wait", loop_wait, 1);
        let mut retry_timeout = clamp("retry_timeout", retry_timeout, 3);
        let twice_retry = retry_timeout.saturating_mul(2);
        if twice_retry.saturating_add(1) > ttl {
            loop_wait = 1;
            retry_timeout = (ttl - 1) / 2;
            warnings.push(format!(
                "Violated the rule \"loop_wait + 2*retry_timeout <= ttl\", where ttl={ttl}. Adjusting loop_wait to 1 and retry_timeout to {retry_timeout}"
            ));
        } else if loop_wait.saturating_add(twice_retry) > ttl {
            loop_wait = ttl - twice_retry;
            warnings.push(format!(
                "Violated the rule \"loop_wait + 2*retry_timeout <= ttl\", where ttl={ttl} and retry_timeout={retry_timeout}. Adjusting loop_wait to {loop_wait}"
            ));
        }
        // Every value is within 1..=u32::MAX here.
        let as_u32 = |v: i64| u32::try_from(v.clamp(1, max)).unwrap_or(u32::MAX);
        (
            Timing {
                ttl: as_u32(ttl),
                loop_wait: as_u32(loop_wait),
                retry_timeout: as_u32(retry_timeout),
            },
            warnings,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass() {
        let (t, w) = Timing::enforce(30, 10, 10);
        assert_eq!(t, Timing::default());
        assert!(w.is_empty());
    }

    #[test]
    fn rule_is_enforced() {
        assert_eq!(
            Timing::enforce(20, 2, 5).0,
            Timing {
                ttl: 20,
                loop_wait: 2,
                retry_timeout: 5
            }
        );
        assert_eq!(
            Timing::enforce(20, 10, 8).0,
            Timing {
                ttl: 20,
                loop_wait: 4,
                retry_timeout: 8
            }
        );
        assert_eq!(
            Timing::enforce(20, 10, 10).0,
            Timing {
                ttl: 20,
                loop_wait: 1,
                retry_timeout: 9
            }
        );
        assert_eq!(Timing::enforce(5, 0, 1).0.ttl, 20);
    }

    #[test]
    fn huge_values_are_clamped_not_wrapped() {
        // `{"loop_wait": 1e300}` or 99999999999999999999 in /config: the loop keeps its pace.
        assert_eq!(
            Timing::enforce(30, i64::MAX, 10).0,
            Timing {
                ttl: 30,
                loop_wait: 10,
                retry_timeout: 10
            }
        );
        assert_eq!(
            Timing::enforce(30, 10, i64::MAX).0,
            Timing {
                ttl: 30,
                loop_wait: 1,
                retry_timeout: 14
            }
        );
        let huge_ttl = Timing::enforce(i64::MAX, i64::MAX, i64::MAX).0;
        assert_eq!(huge_ttl.ttl, u32::MAX);
        assert!(
            u64::from(huge_ttl.loop_wait) + 2 * u64::from(huge_ttl.retry_timeout)
                <= u64::from(huge_ttl.ttl)
        );
        assert_eq!(Timing::enforce(i64::MIN, i64::MIN, i64::MIN).0.ttl, 20);
    }
}
