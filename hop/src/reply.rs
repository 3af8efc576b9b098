//! The reply of one hop: one model, three renderings (the original's text,
//! JSON for `Accept: application/json`, and the `chain.v1.Reply` message).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Mirrors `chain.v1.Reply`; field names are the JSON names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    pub service: String,
    pub version: String,
    /// The pod that answered (`POD_NAME`), when it knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    pub seconds: f64,
    #[serde(default)]
    pub upstreams: Vec<UpstreamReply>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_odd: Option<bool>,
    /// Terminal hop only: the current time as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// What one upstream answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpstreamReply {
    pub target: String,
    #[serde(flatten)]
    pub answer: Answer,
}

/// JSON: exactly one of `reply`, `body` or `error` next to `target`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    /// The upstream is a hop: its own reply, nested.
    Reply(Box<Reply>),
    /// The upstream is something else (an external API): its body as text.
    Body(String),
    /// The call failed; the hop still answers, with this text in place.
    Error(String),
}

impl Reply {
    /// The original's text: `<service>-<version> - <s>secs`, then one
    /// `<upstream> -> <answer>` line per upstream (nested replies continue on
    /// the following lines, so a chain reads top to bottom).
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(128);
        self.write_text(&mut out);
        out.push('\n');
        out
    }

    fn write_text(&self, out: &mut String) {
        let _ = write!(
            out,
            "{}-{} - {:.3}secs",
            self.service, self.version, self.seconds
        );
        if let Some(pod) = &self.pod {
            let _ = write!(out, " pod={pod}");
        }
        if let (Some(num), Some(odd)) = (self.num, self.is_odd) {
            let _ = write!(out, " num={num} isOdd={odd}");
        }
        if let Some(body) = &self.body {
            out.push('\n');
            out.push_str(body.trim_end());
        }
        for upstream in &self.upstreams {
            let _ = write!(out, "\n{} -> ", upstream.target);
            match &upstream.answer {
                Answer::Reply(reply) => reply.write_text(out),
                Answer::Body(body) => out.push_str(body.trim_end()),
                Answer::Error(error) => out.push_str(error),
            }
        }
    }

    /// The first failure anywhere below this hop, as
    /// `<service>-<version> -> <target>: <error>`. A failed upstream does not
    /// fail the hop that called it (it is embedded as text in a success), so a
    /// chain answered fully only when this is `None`.
    pub fn first_error(&self) -> Option<String> {
        self.upstreams.iter().find_map(|u| match &u.answer {
            Answer::Reply(r) => r.first_error(),
            Answer::Body(_) => None,
            Answer::Error(e) => Some(format!(
                "{}-{} -> {}: {e}",
                self.service, self.version, u.target
            )),
        })
    }

    /// Every hop that answered, depth first: `(service, version)`.
    pub fn hops(&self) -> Vec<(String, String)> {
        let mut out = vec![(self.service.clone(), self.version.clone())];
        for u in &self.upstreams {
            if let Answer::Reply(r) = &u.answer {
                out.extend(r.hops());
            }
        }
        out
    }

    /// `(service, pod)` of every hop of the chain that named its pod, in
    /// chain order: where each service's part of the request ran.
    pub fn pods(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .pod
            .iter()
            .map(|p| (self.service.clone(), p.clone()))
            .collect();
        for u in &self.upstreams {
            if let Answer::Reply(r) = &u.answer {
                out.extend(r.pods());
            }
        }
        out
    }

    pub fn to_json(&self) -> String {
        // Serializing plain strings and numbers cannot fail; NaN seconds would
        // become null rather than a panic.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Reads an HTTP upstream's body: a hop's JSON reply, or None when the
    /// upstream is not a hop (its body is then embedded as text).
    pub fn from_json(body: &[u8]) -> Option<Reply> {
        serde_json::from_slice(body).ok()
    }
}

/// What a terminal hop answers by itself, shaped like time.jsontest.com's
/// answer that the original's last hop fetched.
pub fn time_json(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let millis = since.as_millis();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let day_secs = secs % 86_400;
    let (hour, minute, second) = (day_secs / 3600, day_secs / 60 % 60, day_secs % 60);
    let (hour12, half) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!(
        r#"{{"date":"{month:02}-{day:02}-{year}","milliseconds_since_epoch":{millis},"time":"{hour12:02}:{minute:02}:{second:02} {half}"}}"#
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl From<Reply> for chain_proto::Reply {
    fn from(reply: Reply) -> Self {
        chain_proto::Reply {
            service: reply.service,
            version: reply.version,
            pod: reply.pod,
            seconds: reply.seconds,
            upstreams: reply.upstreams.into_iter().map(Into::into).collect(),
            num: reply.num,
            is_odd: reply.is_odd,
            body: reply.body,
        }
    }
}

impl From<UpstreamReply> for chain_proto::Upstream {
    fn from(upstream: UpstreamReply) -> Self {
        use chain_proto::Answer as P;
        let answer = match upstream.answer {
            Answer::Reply(reply) => P::Reply((*reply).into()),
            Answer::Body(body) => P::Body(body),
            Answer::Error(error) => P::Error(error),
        };
        chain_proto::Upstream {
            target: upstream.target,
            answer: Some(answer),
        }
    }
}

impl From<chain_proto::Reply> for Reply {
    fn from(reply: chain_proto::Reply) -> Self {
        Reply {
            service: reply.service,
            version: reply.version,
            pod: reply.pod,
            seconds: reply.seconds,
            upstreams: reply.upstreams.into_iter().map(Into::into).collect(),
            num: reply.num,
            is_odd: reply.is_odd,
            body: reply.body,
        }
    }
}

impl From<chain_proto::Upstream> for UpstreamReply {
    fn from(upstream: chain_proto::Upstream) -> Self {
        use chain_proto::Answer as P;
        let answer = match upstream.answer {
            Some(P::Reply(reply)) => Answer::Reply(Box::new(reply.into())),
            Some(P::Body(body)) => Answer::Body(body),
            Some(P::Error(error)) => Answer::Error(error),
            None => Answer::Error("upstream answer missing".into()),
        };
        UpstreamReply {
            target: upstream.target,
            answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(service: &str, upstreams: Vec<UpstreamReply>) -> Reply {
        Reply {
            service: service.into(),
            version: "prod".into(),
            pod: None,
            seconds: 0.0,
            upstreams,
            num: None,
            is_odd: None,
            body: None,
        }
    }

    #[test]
    fn an_error_at_any_depth_fails_the_chain() {
        let deep_error = hop(
            "a",
            vec![UpstreamReply {
                target: "b".into(),
                answer: Answer::Reply(Box::new(hop(
                    "b",
                    vec![UpstreamReply {
                        target: "ext".into(),
                        answer: Answer::Error("StatusCodeError: 502 - \"\"".into()),
                    }],
                ))),
            }],
        );
        let error = deep_error.first_error().unwrap();
        assert_eq!(error, "b-prod -> ext: StatusCodeError: 502 - \"\"");
        let fine = hop(
            "a",
            vec![UpstreamReply {
                target: "ext".into(),
                answer: Answer::Body("{}".into()),
            }],
        );
        assert_eq!(fine.first_error(), None);
        assert_eq!(
            deep_error.hops(),
            [("a".into(), "prod".into()), ("b".into(), "prod".into())]
        );
    }

    fn chain() -> Reply {
        let backend = Reply {
            service: "backend".into(),
            version: "prod".into(),
            pod: Some("backend-prod-5d8f-x2k9q".into()),
            seconds: 0.0001,
            upstreams: vec![],
            num: None,
            is_odd: None,
            body: Some(r#"{"time":"x"}"#.into()),
        };
        Reply {
            service: "frontend".into(),
            version: "prod".into(),
            pod: None,
            seconds: 0.287,
            upstreams: vec![
                UpstreamReply {
                    target: "http://backend/".into(),
                    answer: Answer::Reply(Box::new(backend)),
                },
                UpstreamReply {
                    target: "https://api/".into(),
                    answer: Answer::Body("{}\n".into()),
                },
                UpstreamReply {
                    target: "grpc://down:1".into(),
                    answer: Answer::Error("Status: UNAVAILABLE".into()),
                },
            ],
            num: Some(13),
            is_odd: Some(true),
            body: None,
        }
    }

    #[test]
    fn text_reads_like_the_original() {
        assert_eq!(
            chain().to_text(),
            "frontend-prod - 0.287secs num=13 isOdd=true\n\
             http://backend/ -> backend-prod - 0.000secs pod=backend-prod-5d8f-x2k9q\n\
             {\"time\":\"x\"}\n\
             https://api/ -> {}\n\
             grpc://down:1 -> Status: UNAVAILABLE\n"
        );
    }

    #[test]
    fn json_shape_and_round_trip() {
        let json = chain().to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["upstreams"][0]["reply"]["service"], "backend");
        assert_eq!(
            value["upstreams"][0]["reply"]["pod"],
            "backend-prod-5d8f-x2k9q"
        );
        assert!(
            value.get("pod").is_none(),
            "a pod without POD_NAME says none"
        );
        assert_eq!(value["upstreams"][1]["body"], "{}\n");
        assert_eq!(value["upstreams"][2]["error"], "Status: UNAVAILABLE");
        assert_eq!(value["isOdd"], true);
        assert_eq!(Reply::from_json(json.as_bytes()), Some(chain()));
    }

    #[test]
    fn foreign_json_is_not_a_reply() {
        assert_eq!(Reply::from_json(br#"{"time":"12:00"}"#), None);
        assert_eq!(Reply::from_json(b"not json"), None);
    }

    #[test]
    fn proto_round_trip() {
        let proto: chain_proto::Reply = chain().into();
        assert_eq!(Reply::from(proto), chain());
    }

    #[test]
    fn time_json_is_a_date() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_764_130_989); // 2025-11-26 04:23:09 UTC
        assert_eq!(
            time_json(t),
            r#"{"date":"11-26-2025","milliseconds_since_epoch":1764130989000,"time":"04:23:09 AM"}"#
        );
    }
}
