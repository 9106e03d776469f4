//! Using a stored response for a new request, RFC 9111 §4 (with §4.2.4 on stale responses,
//! §4.3.1 on validation requests, §5.2.1 on request directives and RFC 5861's
//! `stale-while-revalidate` / `stale-if-error`).
//!
//! Request directives are honoured as the RFC reads, which differs from a naive "bypass the
//! cache" in two places: `no-cache` and `max-age=0` ask for *validation*, so the cache sends a
//! conditional request and may still answer from storage on a 304; and `no-store` in a
//! request forbids storing the new response but not using one already stored (§5.2.1.5).
//!
//! Qualified `no-cache="field"` in the stored response is treated like unqualified `no-cache`
//! (always validate), as §5.2.2.4 notes most caches do.

use std::time::SystemTime;

use super::StoredResponse;
use super::control::{CacheControl, MaxStale};
use super::fields::{self, Fields};

/// What to do with a stored response for a new request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheDecision {
    /// Serve the stored response as is, with `Age: age`.
    Fresh { age: u64 },
    /// Serve the stored response although it is stale, with `Age: age`, because the client
    /// (`max-stale`) or the origin (`stale-while-revalidate`) allows it. If `revalidate`, also
    /// validate it in the background.
    ServeStale { age: u64, revalidate: bool },
    /// Validate first (§4.3.1): forward the request with `conditional` fields added
    /// (`If-None-Match` with the stored ETag, `If-Modified-Since` with its `Last-Modified`;
    /// empty if it has neither, making the request unconditional). On 304 use
    /// [`crate::semantics::cache::freshen_from_304`]; on a full response, replace.
    Stale { conditional: Vec<(String, String)> },
    /// This stored response does not answer this request at all.
    MustNotUse(Unusable),
    /// The request said `only-if-cached` and the stored response would need the origin:
    /// answer 504 Gateway Timeout (§5.2.1.7).
    GatewayTimeout,
}

/// Why a stored response cannot answer a request (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// A response to HEAD cannot answer GET; only GET and HEAD are served from storage.
    #[error("the request method cannot be answered by the stored response's method")]
    Method,
    /// §4.1: the request's values of the `Vary` fields differ (or `Vary: *`).
    #[error("the request does not match the stored response's Vary fields")]
    Vary,
}

/// §4: how to answer a `method` request with `request_headers` from `stored`, at `now`.
pub fn decide(
    stored: &StoredResponse,
    method: &str,
    request_headers: &Fields,
    now: SystemTime,
    shared: bool,
) -> CacheDecision {
    if !method_allows(&stored.request_method, method) {
        return CacheDecision::MustNotUse(Unusable::Method);
    }
    if !stored.vary_matches(request_headers) {
        return CacheDecision::MustNotUse(Unusable::Vary);
    }
    let request = request_directives(request_headers);
    let response = stored.cache_control();
    let age = stored.current_age(now);
    let lifetime = stored.freshness(shared).lifetime;

    let validate_anyway =
        response.no_cache || request.no_cache || request.max_age.is_some_and(|max| age > max);
    if !validate_anyway {
        if fresh_enough(lifetime, age, request.min_fresh) {
            return CacheDecision::Fresh { age };
        }
        if let Some(decision) = stale_allowance(&request, &response, lifetime, age, shared) {
            return decision;
        }
    }
    if request.only_if_cached {
        return CacheDecision::GatewayTimeout;
    }
    CacheDecision::Stale {
        conditional: validation_fields(&stored.headers),
    }
}

/// RFC 5861 §4 and RFC 9111 §4.2.4: whether, when validation failed (an error status or no
/// connection), the stale `stored` response may be served instead of the error.
pub fn may_serve_stale_on_error(
    stored: &StoredResponse,
    request_headers: &Fields,
    now: SystemTime,
    shared: bool,
) -> bool {
    let request = request_directives(request_headers);
    let response = stored.cache_control();
    if stale_forbidden(&response, shared) {
        return false;
    }
    let staleness = stored
        .current_age(now)
        .saturating_sub(stored.freshness(shared).lifetime);
    let window = match (request.stale_if_error, response.stale_if_error) {
        // The client's wish bounds what the origin allows.
        (Some(req), _) => Some(req),
        (None, resp) => resp,
    };
    window.is_some_and(|w| staleness <= w)
}

/// The request's directives, with `Pragma: no-cache` when there is no `Cache-Control`.
fn request_directives(headers: &Fields) -> CacheControl {
    let cc = fields::combined(headers, "cache-control");
    let pragma = fields::combined(headers, "pragma");
    CacheControl::for_request(cc.as_deref(), pragma.as_deref())
}

/// A stored GET response answers GET and HEAD; a stored HEAD response only HEAD.
fn method_allows(stored: &str, requested: &str) -> bool {
    match requested {
        "GET" => stored == "GET",
        "HEAD" => stored == "GET" || stored == "HEAD",
        _ => false,
    }
}

/// §4.2 `freshness_lifetime > current_age`, and §5.2.1.3: still fresh `min_fresh` from now.
fn fresh_enough(lifetime: u64, age: u64, min_fresh: Option<u64>) -> bool {
    lifetime > age && lifetime - age >= min_fresh.unwrap_or(0)
}

/// §4.2.4: serving stale needs permission (client `max-stale`, origin
/// `stale-while-revalidate`) and no prohibition (`must-revalidate`, and in a shared cache
/// `proxy-revalidate` or `s-maxage`). A client that asked for `min-fresh` gets no stale.
fn stale_allowance(
    request: &CacheControl,
    response: &CacheControl,
    lifetime: u64,
    age: u64,
    shared: bool,
) -> Option<CacheDecision> {
    if stale_forbidden(response, shared) || request.min_fresh.is_some() {
        return None;
    }
    let staleness = age.saturating_sub(lifetime);
    let client_allows = match request.max_stale {
        Some(MaxStale::Any) => true,
        Some(MaxStale::Seconds(s)) => staleness <= s,
        None => false,
    };
    if client_allows {
        return Some(CacheDecision::ServeStale {
            age,
            revalidate: false,
        });
    }
    let origin_allows = response
        .stale_while_revalidate
        .is_some_and(|w| staleness <= w);
    origin_allows.then_some(CacheDecision::ServeStale {
        age,
        revalidate: true,
    })
}

fn stale_forbidden(response: &CacheControl, shared: bool) -> bool {
    response.no_cache
        || response.must_revalidate
        || (shared && (response.proxy_revalidate || response.s_maxage.is_some()))
}

/// §4.3.1: the validators of the stored response, as conditional request fields.
fn validation_fields(stored_headers: &Fields) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(etag) = fields::first(stored_headers, "etag") {
        out.push(("If-None-Match".to_owned(), etag.to_owned()));
    }
    if let Some(lm) = fields::first(stored_headers, "last-modified") {
        out.push(("If-Modified-Since".to_owned(), lm.to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::cache::fields::owned;
    use crate::semantics::date::{format_http_date, from_unix_seconds};

    const T: i64 = 1_700_000_000;

    fn at(offset: i64) -> SystemTime {
        from_unix_seconds(T + offset)
    }

    /// A GET response received at T with the given extra fields, Date T, ETag and LM.
    fn stored(extra: &[(&str, &str)]) -> StoredResponse {
        let date = format_http_date(at(0));
        let lm = format_http_date(at(-86_400));
        let mut headers = owned(&[("Date", &date), ("ETag", "\"v1\""), ("Last-Modified", &lm)]);
        headers.extend(owned(extra));
        StoredResponse::new("GET", &[], 200, headers, at(0), at(0)).unwrap()
    }

    fn decide_at(
        s: &StoredResponse,
        req: &[(&str, &str)],
        now: i64,
        shared: bool,
    ) -> CacheDecision {
        decide(s, "GET", &owned(req), at(now), shared)
    }

    fn validate(s: &StoredResponse) -> CacheDecision {
        CacheDecision::Stale {
            conditional: vec![
                ("If-None-Match".into(), "\"v1\"".into()),
                (
                    "If-Modified-Since".into(),
                    fields::first(&s.headers, "last-modified").unwrap().into(),
                ),
            ],
        }
    }

    #[test]
    fn fresh_then_stale() {
        let s = stored(&[("Cache-Control", "max-age=60")]);
        assert_eq!(
            decide_at(&s, &[], 10, true),
            CacheDecision::Fresh { age: 10 }
        );
        assert_eq!(
            decide_at(&s, &[], 59, true),
            CacheDecision::Fresh { age: 59 }
        );
        assert_eq!(decide_at(&s, &[], 60, true), validate(&s));
    }

    #[test]
    fn s_maxage_vs_max_age_for_shared_and_private_caches() {
        let s = stored(&[("Cache-Control", "max-age=600, s-maxage=60")]);
        assert_eq!(decide_at(&s, &[], 100, true), validate(&s));
        assert_eq!(
            decide_at(&s, &[], 100, false),
            CacheDecision::Fresh { age: 100 }
        );
    }

    #[test]
    fn heuristic_freshness_is_used() {
        // Last-Modified a day before Date: 10% = 8640 s.
        let s = stored(&[]);
        assert_eq!(
            decide_at(&s, &[], 8639, true),
            CacheDecision::Fresh { age: 8639 }
        );
        assert_eq!(decide_at(&s, &[], 8640, true), validate(&s));
    }

    #[test]
    fn request_no_cache_and_max_age_zero_validate() {
        let s = stored(&[("Cache-Control", "max-age=600")]);
        assert_eq!(
            decide_at(&s, &[("Cache-Control", "no-cache")], 1, true),
            validate(&s)
        );
        assert_eq!(
            decide_at(&s, &[("Cache-Control", "max-age=0")], 1, true),
            validate(&s)
        );
        assert_eq!(
            decide_at(&s, &[("Pragma", "no-cache")], 1, true),
            validate(&s)
        );
        // Pragma is ignored when Cache-Control is present.
        let both = [("Cache-Control", "max-age=100"), ("Pragma", "no-cache")];
        assert_eq!(
            decide_at(&s, &both, 1, true),
            CacheDecision::Fresh { age: 1 }
        );
        // Request max-age larger than the age is fine.
        let ma = [("Cache-Control", "max-age=30")];
        assert_eq!(
            decide_at(&s, &ma, 30, true),
            CacheDecision::Fresh { age: 30 }
        );
        assert_eq!(decide_at(&s, &ma, 31, true), validate(&s));
    }

    #[test]
    fn request_no_store_may_still_use_the_stored_response() {
        let s = stored(&[("Cache-Control", "max-age=600")]);
        let req = [("Cache-Control", "no-store")];
        assert_eq!(
            decide_at(&s, &req, 1, true),
            CacheDecision::Fresh { age: 1 }
        );
    }

    #[test]
    fn min_fresh() {
        let s = stored(&[("Cache-Control", "max-age=100")]);
        let req = [("Cache-Control", "min-fresh=30")];
        assert_eq!(
            decide_at(&s, &req, 70, true),
            CacheDecision::Fresh { age: 70 }
        );
        assert_eq!(decide_at(&s, &req, 71, true), validate(&s));
    }

    #[test]
    fn response_no_cache_always_validates() {
        let s = stored(&[("Cache-Control", "no-cache, max-age=600")]);
        assert_eq!(decide_at(&s, &[], 0, true), validate(&s));
        let s = stored(&[("Cache-Control", "no-cache=\"Set-Cookie\", max-age=600")]);
        assert_eq!(decide_at(&s, &[], 0, true), validate(&s));
    }

    #[test]
    fn max_stale() {
        let s = stored(&[("Cache-Control", "max-age=60")]);
        let stale_ok = |age| CacheDecision::ServeStale {
            age,
            revalidate: false,
        };
        let any = [("Cache-Control", "max-stale")];
        assert_eq!(decide_at(&s, &any, 10_000, true), stale_ok(10_000));
        let bounded = [("Cache-Control", "max-stale=30")];
        assert_eq!(decide_at(&s, &bounded, 90, true), stale_ok(90));
        assert_eq!(decide_at(&s, &bounded, 91, true), validate(&s));
    }

    #[test]
    fn stale_prohibitions() {
        let any = [("Cache-Control", "max-stale")];
        for cc in ["max-age=60, must-revalidate", "max-age=60, no-cache"] {
            let s = stored(&[("Cache-Control", cc)]);
            assert_eq!(decide_at(&s, &any, 100, false), validate(&s), "{cc}");
        }
        // proxy-revalidate and s-maxage bind shared caches only.
        for cc in ["max-age=60, proxy-revalidate", "max-age=60, s-maxage=60"] {
            let s = stored(&[("Cache-Control", cc)]);
            assert_eq!(decide_at(&s, &any, 100, true), validate(&s), "{cc}");
            assert!(matches!(
                decide_at(&s, &any, 100, false),
                CacheDecision::ServeStale { .. }
            ));
        }
    }

    #[test]
    fn stale_while_revalidate() {
        let s = stored(&[("Cache-Control", "max-age=60, stale-while-revalidate=30")]);
        assert_eq!(
            decide_at(&s, &[], 80, true),
            CacheDecision::ServeStale {
                age: 80,
                revalidate: true
            }
        );
        assert_eq!(decide_at(&s, &[], 91, true), validate(&s));
        // A client insisting on freshness gets a validation.
        let req = [("Cache-Control", "min-fresh=1")];
        assert_eq!(decide_at(&s, &req, 80, true), validate(&s));
    }

    #[test]
    fn only_if_cached() {
        let s = stored(&[("Cache-Control", "max-age=60")]);
        let req = [("Cache-Control", "only-if-cached")];
        assert_eq!(
            decide_at(&s, &req, 10, true),
            CacheDecision::Fresh { age: 10 }
        );
        assert_eq!(
            decide_at(&s, &req, 100, true),
            CacheDecision::GatewayTimeout
        );
        let req = [("Cache-Control", "only-if-cached, max-stale")];
        assert!(matches!(
            decide_at(&s, &req, 100, true),
            CacheDecision::ServeStale { .. }
        ));
    }

    #[test]
    fn validation_fields_follow_available_validators() {
        let s = StoredResponse::new(
            "GET",
            &[],
            200,
            owned(&[("Cache-Control", "max-age=0")]),
            at(0),
            at(0),
        )
        .unwrap();
        assert_eq!(
            decide_at(&s, &[], 1, true),
            CacheDecision::Stale {
                conditional: vec![]
            }
        );
    }

    #[test]
    fn methods_and_vary() {
        let s = stored(&[("Cache-Control", "max-age=60")]);
        assert_eq!(
            decide(&s, "HEAD", &[], at(1), true),
            CacheDecision::Fresh { age: 1 }
        );
        assert_eq!(
            decide(&s, "POST", &[], at(1), true),
            CacheDecision::MustNotUse(Unusable::Method)
        );
        let head = StoredResponse::new("HEAD", &[], 200, s.headers.clone(), at(0), at(0)).unwrap();
        assert_eq!(
            decide(&head, "GET", &[], at(1), true),
            CacheDecision::MustNotUse(Unusable::Method)
        );
        let mut headers = s.headers.clone();
        headers.push(("Vary".into(), "Accept-Encoding".into()));
        let req = owned(&[("Accept-Encoding", "gzip")]);
        let v = StoredResponse::new("GET", &req, 200, headers, at(0), at(0)).unwrap();
        assert_eq!(
            decide(&v, "GET", &req, at(1), true),
            CacheDecision::Fresh { age: 1 }
        );
        assert_eq!(
            decide(&v, "GET", &owned(&[("Accept-Encoding", "br")]), at(1), true),
            CacheDecision::MustNotUse(Unusable::Vary)
        );
    }

    #[test]
    fn stale_if_error() {
        let s = stored(&[("Cache-Control", "max-age=60, stale-if-error=100")]);
        assert!(may_serve_stale_on_error(&s, &[], at(160), true));
        assert!(!may_serve_stale_on_error(&s, &[], at(161), true));
        let req = owned(&[("Cache-Control", "stale-if-error=10")]);
        assert!(!may_serve_stale_on_error(&s, &req, at(100), true));
        let plain = stored(&[("Cache-Control", "max-age=60")]);
        assert!(may_serve_stale_on_error(&plain, &req, at(65), true));
        assert!(!may_serve_stale_on_error(&plain, &[], at(65), true));
        let strict = stored(&[(
            "Cache-Control",
            "max-age=60, must-revalidate, stale-if-error=100",
        )]);
        assert!(!may_serve_stale_on_error(&strict, &[], at(65), true));
    }
}
