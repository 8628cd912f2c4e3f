//! Fault injection: what the next requests suffer instead of (or on top of)
//! normal handling.
//!
//! Owns [`Fault`] and the queue of injected faults. Faults are consumed by
//! requests that passed authentication (their nonce is then spent), in the
//! order they were injected: `inject(a, 2)` then `inject(b, 1)` makes the
//! next three authenticated requests suffer `a`, `a`, `b`.
//!
//! An error fault is answered in the shape of the provider the request
//! was addressed to. Error codes of the Alibaba helpers come from `shared/reference/providers.md` §1.3
//! (<https://help.aliyun.com/en/polardb/client-error-codes>,
//! <https://developer.aliyun.com/ask/278265>).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// One kind of failure to inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this error instead of handling the request.
    Error {
        /// HTTP status.
        status: u16,
        /// Provider error code.
        code: String,
        /// Error message.
        message: String,
    },
    /// Wait this long, then handle the request normally.
    Latency(Duration),
    /// Close the connection without answering and without handling the
    /// request.
    Drop,
    /// Handle the request (state changes happen), then close the connection
    /// without answering: the client cannot know the call took effect.
    DropAfterHandling,
}

impl Fault {
    /// An error answer with any status, code and message.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Fault::Error {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    /// A Tencent Cloud error: always answered with HTTP 200 and
    /// `Response.Error` (`shared/reference/providers.md` §2.2), e.g.
    /// `RequestLimitExceeded` or `AuthFailure.UnauthorizedOperation`.
    pub fn tencent(code: &str, message: &str) -> Self {
        Self::error(200, code, message)
    }

    /// A Huawei Cloud error with its status, e.g. 429 `APIGW.0308` or 403
    /// `APIGW.0306` (§3.1), answered as `{"error_code","error_msg"}`.
    pub fn huawei(status: u16, code: &str, message: &str) -> Self {
        Self::error(status, code, message)
    }

    /// `Throttling.User` with HTTP 400 (Alibaba throttles with 400, not 429).
    pub fn throttling() -> Self {
        Self::error(
            400,
            "Throttling.User",
            "request was denied due to user flow control",
        )
    }

    /// `Forbidden.RAM` with HTTP 403: the RAM user lacks the permission.
    pub fn forbidden_ram() -> Self {
        Self::error(
            403,
            "Forbidden.RAM",
            "user not authorized to operate on the specified resource, or this API doesn't support RAM",
        )
    }

    /// `InternalError` with HTTP 500.
    pub fn internal_error() -> Self {
        Self::error(
            500,
            "InternalError",
            "the request processing has failed due to some unknown error",
        )
    }

    /// `ServiceUnavailable` with HTTP 503.
    pub fn service_unavailable() -> Self {
        Self::error(
            503,
            "ServiceUnavailable",
            "the request has failed due to a temporary failure of the server",
        )
    }
}

/// A rate limit on every authenticated request: at most `per_second`
/// requests per credential in any one-second window; the rest are answered
/// with the provider's throttling error (Alibaba `Throttling.User` 400,
/// Tencent `RequestLimitExceeded`, Huawei 429 `APIGW.0308`).
#[derive(Debug, Default)]
pub(crate) struct RateLimit {
    per_second: Option<usize>,
    window: BTreeMap<String, VecDeque<Instant>>,
}

impl RateLimit {
    pub(crate) fn new(per_second: Option<usize>) -> Self {
        Self {
            per_second,
            window: BTreeMap::new(),
        }
    }

    /// Counts a request of `credential` at `now`; false when it is over
    /// the limit (and then it is not counted).
    pub(crate) fn admit(&mut self, credential: &str, now: Instant) -> bool {
        let Some(limit) = self.per_second else {
            return true;
        };
        let calls = self.window.entry(credential.to_owned()).or_default();
        while calls
            .front()
            .is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(1))
        {
            calls.pop_front();
        }
        if calls.len() >= limit {
            return false;
        }
        calls.push_back(now);
        true
    }
}

/// Injected faults still to be applied, each with the number of requests
/// it still applies to.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    queue: VecDeque<(Fault, usize)>,
}

impl Faults {
    /// Applies `fault` to the next `requests` requests, after the faults
    /// already queued.
    pub(crate) fn push(&mut self, fault: Fault, requests: usize) {
        if requests > 0 {
            self.queue.push_back((fault, requests));
        }
    }

    /// The fault the current request suffers, if any.
    pub(crate) fn take(&mut self) -> Option<Fault> {
        let (fault, remaining) = self.queue.front_mut()?;
        let taken = fault.clone();
        *remaining -= 1;
        if *remaining == 0 {
            self.queue.pop_front();
        }
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_in_order_for_their_count() {
        let mut faults = Faults::default();
        faults.push(Fault::throttling(), 2);
        faults.push(Fault::Drop, 0);
        faults.push(Fault::Drop, 1);
        assert_eq!(faults.take(), Some(Fault::throttling()));
        assert_eq!(faults.take(), Some(Fault::throttling()));
        assert_eq!(faults.take(), Some(Fault::Drop));
        assert_eq!(faults.take(), None);
    }

    #[test]
    fn the_rate_limit_counts_per_credential_over_one_second() {
        let mut limit = RateLimit::new(Some(2));
        let start = Instant::now();
        assert!(limit.admit("a", start) && limit.admit("a", start));
        assert!(!limit.admit("a", start));
        assert!(limit.admit("b", start));
        assert!(limit.admit("a", start + Duration::from_secs(1)));
        assert!(RateLimit::new(None).admit("a", start));
    }

    #[test]
    fn helpers_use_documented_codes() {
        let codes = [
            (Fault::throttling(), 400, "Throttling.User"),
            (Fault::forbidden_ram(), 403, "Forbidden.RAM"),
            (Fault::internal_error(), 500, "InternalError"),
            (Fault::service_unavailable(), 503, "ServiceUnavailable"),
        ];
        for (fault, want_status, want_code) in codes {
            let Fault::Error { status, code, .. } = fault else {
                panic!("not an error fault");
            };
            assert_eq!((status, code.as_str()), (want_status, want_code));
        }
    }
}
