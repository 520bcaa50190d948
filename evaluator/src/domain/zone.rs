//! `__infraZoneOffset ZONE EPOCH` (`infra.lib.policy.window { timeZone = …; }` uses it): the
//! offset from UTC, in seconds, of the IANA time zone `ZONE` (`"Europe/Berlin"`) at the
//! instant `EPOCH` (seconds since 1970), daylight saving time included. The time zone
//! database is the one built into infra (jiff's bundled copy), not the machine's: the same
//! zone and instant give the same offset on every machine, as a pure function must.

use crate::{
    builtins::{self, bad},
    error::EvalResult,
    eval::Machine,
    value::{Thunk, Value},
};

const NAME: &str = "zoneOffset";

/// `lib.policy.window { timeZone; }`: the offset of an IANA time zone at an instant.
pub(super) fn zone_offset(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let zone = builtins::string(m, &args[0])?.as_str().to_owned();
    let epoch = builtins::int(m, &args[1])?;
    let tz = jiff::tz::TimeZone::get(&zone).map_err(|_| {
        bad(NAME, format!("`{zone}` is not a time zone infra knows: use an IANA name such as `Europe/Berlin` or `America/New_York`"))
    })?;
    let instant = jiff::Timestamp::from_second(epoch)
        .map_err(|e| bad(NAME, format!("{epoch} is not an instant infra can place: {e}")))?;
    Ok(Value::Int(i64::from(tz.to_offset(instant).seconds())))
}

#[cfg(test)]
mod tests {
    use jiff::{Timestamp, tz::TimeZone};

    fn offset(zone: &str, iso: &str) -> i32 {
        let at: Timestamp = iso.parse().expect("an instant");
        TimeZone::get(zone).expect("a zone").to_offset(at).seconds()
    }

    #[test]
    fn daylight_saving_time_moves_the_offset() {
        assert_eq!(offset("Europe/Berlin", "2026-01-15T12:00:00Z"), 3600);
        assert_eq!(offset("Europe/Berlin", "2026-07-15T12:00:00Z"), 7200);
        assert_eq!(offset("America/New_York", "2026-07-15T12:00:00Z"), -4 * 3600);
        assert_eq!(offset("Asia/Kolkata", "2026-07-15T12:00:00Z"), 19800);
    }
}
