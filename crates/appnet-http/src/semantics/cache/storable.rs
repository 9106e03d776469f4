//! Whether a response may be stored, RFC 9111 §3 (with §3.5 for `Authorization` and §5.2 for
//! the directives involved).
//!
//! What "understood" means here: this cache stores complete responses to GET and HEAD, and
//! does not combine partial content (§3.4), so 206 and 304 are not understood and never
//! stored; `must-understand` (§5.2.2.3) admits only [`understood_status`] codes.
//!
//! Two conservative choices the RFC permits: qualified `private="..."` is treated like
//! unqualified `private` by a shared cache (instead of storing the response minus those
//! fields), and a response with `Vary: *` is not stored, since §4.1 says it can never be
//! reused.

use super::control::CacheControl;
use super::fields::{self, Fields};
use super::freshness::is_heuristically_cacheable;
use super::vary::{Vary, parse_vary};

/// Why a response may not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotStorable {
    /// §3: the request method must be understood; we cache GET and HEAD.
    #[error("request method {0} is not cached")]
    Method(String),
    /// §3: only final responses are stored.
    #[error("status {0} is not a final response")]
    NotFinal(u16),
    /// §3: 206, 304 and `must-understand` require a status code the cache understands.
    #[error("status {0} is not understood by this cache")]
    StatusNotUnderstood(u16),
    /// §5.2.1.5: the request said `no-store`.
    #[error("request carries Cache-Control: no-store")]
    RequestNoStore,
    /// §5.2.2.5: the response said `no-store`.
    #[error("response carries Cache-Control: no-store")]
    ResponseNoStore,
    /// §5.2.2.7: `private` responses are not for shared caches.
    #[error("response is private and this cache is shared")]
    Private,
    /// §3.5: an authenticated request's response needs public, s-maxage or must-revalidate.
    #[error("request carried Authorization and the response does not allow shared caching")]
    Authorization,
    /// §3: no explicit freshness, no cacheability marker and not heuristically cacheable.
    #[error("response has no freshness information and status {0} is not heuristically cacheable")]
    NoFreshnessInformation(u16),
    /// §4.1: `Vary: *` never matches a later request.
    #[error("response varies on * and could never be reused")]
    VaryStar,
}

/// The status codes whose caching rules this cache implements, for `must-understand`.
pub fn understood_status(status: u16) -> bool {
    matches!(
        status,
        200 | 203 | 204 | 300 | 301 | 302 | 303 | 307 | 308 | 404 | 405 | 410 | 414 | 451 | 501
    )
}

/// §3: may the response (`status`, `response_headers`) to a `method` request with
/// `request_headers` be stored? `shared` is true for the CDN, false for a client's cache.
pub fn check_storable(
    method: &str,
    request_headers: &Fields,
    status: u16,
    response_headers: &Fields,
    shared: bool,
) -> Result<(), NotStorable> {
    if !matches!(method, "GET" | "HEAD") {
        return Err(NotStorable::Method(method.to_owned()));
    }
    if !(200..=599).contains(&status) {
        return Err(NotStorable::NotFinal(status));
    }
    let request_cc = fields::combined(request_headers, "cache-control")
        .map(|v| CacheControl::parse(&v))
        .unwrap_or_default();
    let cc = fields::combined(response_headers, "cache-control")
        .map(|v| CacheControl::parse(&v))
        .unwrap_or_default();
    check_status(status, &cc)?;
    if request_cc.no_store {
        return Err(NotStorable::RequestNoStore);
    }
    // §5.2.2.3: a cache that understands the status ignores no-store under must-understand.
    if cc.no_store && !(cc.must_understand && understood_status(status)) {
        return Err(NotStorable::ResponseNoStore);
    }
    if shared && cc.private {
        return Err(NotStorable::Private);
    }
    if shared
        && fields::has(request_headers, "authorization")
        && !(cc.public || cc.s_maxage.is_some() || cc.must_revalidate)
    {
        return Err(NotStorable::Authorization);
    }
    if matches!(vary_of(response_headers), Vary::Any) {
        return Err(NotStorable::VaryStar);
    }
    if !allows_caching(status, &cc, response_headers, shared) {
        return Err(NotStorable::NoFreshnessInformation(status));
    }
    Ok(())
}

/// [`check_storable`] as a yes/no.
pub fn storable(
    method: &str,
    request_headers: &Fields,
    status: u16,
    response_headers: &Fields,
    shared: bool,
) -> bool {
    check_storable(method, request_headers, status, response_headers, shared).is_ok()
}

fn check_status(status: u16, cc: &CacheControl) -> Result<(), NotStorable> {
    let needs_understanding = matches!(status, 206 | 304) || cc.must_understand;
    if needs_understanding && !understood_status(status) {
        return Err(NotStorable::StatusNotUnderstood(status));
    }
    Ok(())
}

/// §3's last condition: at least one of public, private (private cache), Expires, max-age,
/// s-maxage (shared cache), or a heuristically cacheable status.
fn allows_caching(status: u16, cc: &CacheControl, headers: &Fields, shared: bool) -> bool {
    cc.public
        || (cc.private && !shared)
        || fields::has(headers, "expires")
        || cc.max_age.is_some()
        || (shared && cc.s_maxage.is_some())
        || is_heuristically_cacheable(status)
}

fn vary_of(headers: &Fields) -> Vary {
    fields::combined(headers, "vary")
        .map(|v| parse_vary(&v))
        .unwrap_or(Vary::Names(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::cache::fields::owned;

    fn check(
        method: &str,
        req: &[(&str, &str)],
        status: u16,
        resp: &[(&str, &str)],
        shared: bool,
    ) -> Result<(), NotStorable> {
        check_storable(method, &owned(req), status, &owned(resp), shared)
    }

    #[test]
    fn plain_200_is_storable_heuristically() {
        assert_eq!(check("GET", &[], 200, &[], true), Ok(()));
        assert_eq!(check("HEAD", &[], 404, &[], true), Ok(()));
    }

    #[test]
    fn methods() {
        let max_age = [("Cache-Control", "max-age=60")];
        assert_eq!(
            check("POST", &[], 200, &max_age, true),
            Err(NotStorable::Method("POST".into()))
        );
        assert!(check("PUT", &[], 200, &max_age, false).is_err());
    }

    #[test]
    fn statuses() {
        assert_eq!(
            check("GET", &[], 101, &[], true),
            Err(NotStorable::NotFinal(101))
        );
        assert_eq!(
            check("GET", &[], 206, &[("Cache-Control", "max-age=60")], true),
            Err(NotStorable::StatusNotUnderstood(206))
        );
        assert_eq!(
            check("GET", &[], 304, &[], true),
            Err(NotStorable::StatusNotUnderstood(304))
        );
        // 302 needs explicit freshness.
        assert_eq!(
            check("GET", &[], 302, &[], true),
            Err(NotStorable::NoFreshnessInformation(302))
        );
        assert_eq!(check("GET", &[], 302, &[("Expires", "0")], true), Ok(()));
        assert_eq!(
            check("GET", &[], 500, &[("Cache-Control", "max-age=5")], true),
            Ok(())
        );
    }

    #[test]
    fn no_store() {
        assert_eq!(
            check("GET", &[], 200, &[("Cache-Control", "no-store")], false),
            Err(NotStorable::ResponseNoStore)
        );
        assert_eq!(
            check("GET", &[("Cache-Control", "no-store")], 200, &[], false),
            Err(NotStorable::RequestNoStore)
        );
    }

    #[test]
    fn must_understand_overrides_no_store_for_understood_statuses() {
        let cc = [("Cache-Control", "must-understand, no-store, max-age=60")];
        assert_eq!(check("GET", &[], 200, &cc, true), Ok(()));
        assert_eq!(
            check("GET", &[], 418, &cc, true),
            Err(NotStorable::StatusNotUnderstood(418))
        );
    }

    #[test]
    fn private_only_in_private_caches() {
        let cc = [("Cache-Control", "private, max-age=60")];
        assert_eq!(check("GET", &[], 200, &cc, true), Err(NotStorable::Private));
        assert_eq!(check("GET", &[], 200, &cc, false), Ok(()));
        let qualified = [("Cache-Control", "private=\"Set-Cookie\", max-age=60")];
        assert_eq!(
            check("GET", &[], 200, &qualified, true),
            Err(NotStorable::Private)
        );
        // `private` alone makes any status storable for a private cache.
        assert_eq!(
            check("GET", &[], 302, &[("Cache-Control", "private")], false),
            Ok(())
        );
    }

    /// §3.5: shared caches and Authorization.
    #[test]
    fn authorization() {
        let auth = [("Authorization", "Bearer x")];
        assert_eq!(
            check("GET", &auth, 200, &[("Cache-Control", "max-age=60")], true),
            Err(NotStorable::Authorization)
        );
        for cc in ["public", "s-maxage=60", "must-revalidate, max-age=60"] {
            assert_eq!(
                check("GET", &auth, 200, &[("Cache-Control", cc)], true),
                Ok(()),
                "{cc}"
            );
        }
        assert_eq!(
            check("GET", &auth, 200, &[("Cache-Control", "max-age=60")], false),
            Ok(())
        );
    }

    #[test]
    fn s_maxage_counts_only_for_shared() {
        let cc = [("Cache-Control", "s-maxage=60")];
        assert_eq!(check("GET", &[], 302, &cc, true), Ok(()));
        assert_eq!(
            check("GET", &[], 302, &cc, false),
            Err(NotStorable::NoFreshnessInformation(302))
        );
    }

    #[test]
    fn vary_star_is_not_stored() {
        assert_eq!(
            check("GET", &[], 200, &[("Vary", "Accept, *")], true),
            Err(NotStorable::VaryStar)
        );
        assert!(storable(
            "GET",
            &[],
            200,
            &owned(&[("Vary", "Accept")]),
            true
        ));
    }
}
