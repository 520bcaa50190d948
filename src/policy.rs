//! The policy engine of a run: an evaluator on a thread of its own (evaluation is
//! single-threaded; the run is not), started at the first check. It evaluates the project's
//! entry file once (the import cache keeps it) and applies a component's policies to each
//! plan it is asked about. `INFRA_NOW` (seconds since the epoch, or an RFC 3339 UTC time)
//! fixes the clock and `INFRA_USER` the user, so a verdict can be reproduced.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, mpsc},
};

use evaluator::{EvalError, Evaluator, Json, Verdict};
use runner::policy::{PolicyContext, PolicyEngine};

use crate::io::RealIo;

type Reply = Result<Vec<Verdict>, String>;

struct Request {
    address: String,
    input: Json,
    reply: mpsc::Sender<Reply>,
}

/// Requests to the evaluator thread.
pub(crate) struct Engine {
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    entry: PathBuf,
}

impl Engine {
    fn new(entry: PathBuf) -> Engine {
        Engine { requests: Mutex::new(None), entry }
    }

    fn sender(&self) -> Option<mpsc::Sender<Request>> {
        let mut requests = self.requests.lock().ok()?;
        if requests.is_none() {
            let (tx, rx) = mpsc::channel::<Request>();
            let entry = self.entry.clone();
            std::thread::Builder::new()
                .name("infra-policies".into())
                .spawn(move || serve(&entry, &rx))
                .ok()?;
            *requests = Some(tx);
        }
        requests.clone()
    }
}

impl PolicyEngine for Engine {
    fn check(&self, address: &str, input: &Json) -> Reply {
        let sender = self.sender().ok_or("cannot start the policy evaluator")?;
        let (reply, answer) = mpsc::channel();
        let request = Request { address: address.to_owned(), input: input.clone(), reply };
        sender.send(request).map_err(|_| "the policy evaluator stopped".to_owned())?;
        answer.recv().map_err(|_| "the policy evaluator stopped".to_owned())?
    }
}

fn serve(entry: &std::path::Path, requests: &mpsc::Receiver<Request>) {
    let mut evaluator = Evaluator::new(Box::new(RealIo::default()));
    for request in requests {
        let verdicts = evaluator
            .check_policies(entry, &request.address, &request.input)
            .map_err(|error| one_line(&evaluator, &error));
        let _ = request.reply.send(verdicts);
    }
}

/// `message (at FILE:LINE:COL; help)`.
fn one_line(evaluator: &Evaluator, error: &EvalError) -> String {
    let mut text = error.to_string();
    if let Some(diagnostic) = error.diagnostics().first() {
        let sources = evaluator.sources();
        let span = diagnostic.primary;
        let at = sources.line_col(span.file, span.range.start());
        text.push_str(&format!(" (at {}:{}:{})", sources.name(span.file), at.line, at.column));
    }
    if let Some(help) = &error.help {
        text.push_str(&format!("; help: {help}"));
    }
    text
}

/// The policy context of a run of the project at `entry`.
pub(crate) fn context(entry: PathBuf, allow_destroy: bool) -> Result<PolicyContext, String> {
    Ok(PolicyContext {
        engine: Some(Arc::new(Engine::new(entry))),
        now: now()?,
        user: user(),
        allow_destroy,
    })
}

/// Now, in seconds since the epoch: `INFRA_NOW` when set.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Result<i64, String> {
    match std::env::var("INFRA_NOW").ok().filter(|v| !v.is_empty()) {
        Some(text) => parse_time(&text).ok_or_else(|| {
            format!(
                "`INFRA_NOW` is `{text}`: not seconds since the epoch or `YYYY-MM-DDTHH:MM:SSZ`"
            )
        }),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)),
    }
}

/// Who runs infra: `INFRA_USER`, else `USER`, else `LOGNAME`.
#[allow(clippy::disallowed_methods)]
pub(crate) fn user() -> String {
    ["INFRA_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Seconds since the epoch, or `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_time(text: &str) -> Option<i64> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds);
    }
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let date: Vec<i64> = date.split('-').map(str::parse).collect::<Result<_, _>>().ok()?;
    let time: Vec<i64> = time.split(':').map(str::parse).collect::<Result<_, _>>().ok()?;
    let ([y, m, d], [hh, mm, ss]) = (date.as_slice(), time.as_slice()) else { return None };
    if !(1..=12).contains(m) || !(1..=31).contains(d) || *hh > 23 || *mm > 59 || *ss > 60 {
        return None;
    }
    Some(days_from_civil(*y, *m, *d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_utc() {
        assert_eq!(parse_time("1796121000"), Some(1_796_121_000));
        assert_eq!(parse_time("2026-12-01T10:30:00Z"), Some(1_796_121_000));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-13-01T10:30:00Z"), None);
        assert_eq!(parse_time("tomorrow"), None);
    }
}
