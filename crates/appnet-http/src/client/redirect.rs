//! Following redirects, sans-IO: given a request and the 3xx that answered it, the next request.
//!
//! RFC 9110 §15.4: 301, 302, 303, 307 and 308 with a `Location` (§10.2.2, a URI reference
//! resolved against the request's URL; its fragment is dropped here, unlike §10.2.2 asks of a
//! browser, since it is never sent).
//!
//! - 303 (§15.4.4): the next request is GET (HEAD stays HEAD), without the body.
//! - 301 and 302 (§15.4.2, §15.4.3): "a user agent MAY change the request method from POST to
//!   GET"; curl and browsers do, and so do we. Other methods keep theirs.
//! - 307 and 308 (§15.4.8, §15.4.9): method and body unchanged.
//! - No https→http downgrade: the secrecy the user asked for would end silently.
//! - To another origin the credentials stay behind (Authorization, Cookie,
//!   Proxy-Authorization), as does a Host the caller set by hand.
//! - A 3xx without Location is no redirect: the caller gets it as it is.

use crate::proto::{Headers, Method};

use super::Request;
use super::error::ClientError;
use super::url::Scheme;

/// Fields that describe a body, dropped with it when the method becomes GET (RFC 9110 §8).
const BODY_FIELDS: &[&str] = &[
    "content-length",
    "content-type",
    "content-encoding",
    "content-language",
    "content-location",
    "transfer-encoding",
];
/// Fields that carry credentials for one origin.
const CREDENTIAL_FIELDS: &[&str] = &["authorization", "cookie", "proxy-authorization", "host"];

/// Whether `status` is a redirect this client follows.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The request to send after `status` with `headers` answered `request`, or `None` when the
/// response is not one to follow.
pub fn next_request(
    request: &Request,
    status: u16,
    headers: &Headers,
) -> Result<Option<Request>, ClientError> {
    if !is_redirect(status) {
        return Ok(None);
    }
    let Some(location) = headers.get_bytes("location") else {
        return Ok(None);
    };
    let bad = |reason: String| ClientError::BadLocation { status, reason };
    let location =
        std::str::from_utf8(location).map_err(|_| bad("Location is not UTF-8".into()))?;
    let url = request
        .url
        .join(location)
        .map_err(|err| bad(err.to_string()))?;
    if request.url.scheme() == Scheme::Https && url.scheme() == Scheme::Http {
        return Err(ClientError::RedirectDowngrade {
            from: request.url.to_string(),
            to: url.to_string(),
        });
    }
    let mut next = request.clone();
    if becomes_get(&request.method, status) {
        next.method = Method::Get;
        next.body = None;
        remove_all(&mut next.headers, BODY_FIELDS);
    }
    if !url.same_origin(&request.url) {
        remove_all(&mut next.headers, CREDENTIAL_FIELDS);
    }
    next.url = url;
    Ok(Some(next))
}

fn becomes_get(method: &Method, status: u16) -> bool {
    match status {
        303 => *method != Method::Head && *method != Method::Get,
        301 | 302 => *method == Method::Post,
        _ => false,
    }
}

fn remove_all(headers: &mut Headers, names: &[&str]) {
    for name in names {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Url;

    fn request(method: Method, url: &str) -> Request {
        let mut request = Request::new(method, Url::parse(url).unwrap());
        request.headers.append("Authorization", "Basic eDp5");
        request.headers.append("Content-Type", "text/plain");
        request.body = Some(b"data".to_vec());
        request
    }

    fn location(value: &str) -> Headers {
        let mut headers = Headers::new();
        headers.append("Location", value);
        headers
    }

    fn next(request: &Request, status: u16, to: &str) -> Request {
        next_request(request, status, &location(to))
            .unwrap()
            .expect("a redirect")
    }

    #[test]
    fn methods_per_status() {
        let post = request(Method::Post, "http://h/form");
        for status in [301, 302, 303] {
            let got = next(&post, status, "/done");
            assert_eq!(got.method, Method::Get, "{status}");
            assert_eq!(got.body, None);
            assert!(!got.headers.contains("content-type"));
            assert_eq!(got.url.to_string(), "http://h/done");
        }
        for status in [307, 308] {
            let got = next(&post, status, "/again");
            assert_eq!(got.method, Method::Post);
            assert_eq!(got.body.as_deref(), Some(&b"data"[..]));
        }
        let put = request(Method::Put, "http://h/x");
        assert_eq!(next(&put, 301, "/y").method, Method::Put);
        assert_eq!(next(&put, 303, "/y").method, Method::Get);
        let head = request(Method::Head, "http://h/x");
        assert_eq!(next(&head, 303, "/y").method, Method::Head);
    }

    #[test]
    fn relative_locations_and_credentials() {
        let get = request(Method::Get, "http://h/dir/page");
        let same = next(&get, 301, "other");
        assert_eq!(same.url.to_string(), "http://h/dir/other");
        assert!(same.headers.contains("authorization"));
        let elsewhere = next(&get, 302, "https://elsewhere.example/");
        assert!(!elsewhere.headers.contains("authorization"));
    }

    #[test]
    fn refusals_and_non_redirects() {
        let secure = request(Method::Get, "https://h/");
        assert!(matches!(
            next_request(&secure, 302, &location("http://h/")),
            Err(ClientError::RedirectDowngrade { .. })
        ));
        assert!(matches!(
            next_request(&secure, 302, &location("ftp://h/")),
            Err(ClientError::BadLocation { status: 302, .. })
        ));
        assert!(
            next_request(&secure, 304, &location("/x"))
                .unwrap()
                .is_none()
        );
        assert!(
            next_request(&secure, 301, &Headers::new())
                .unwrap()
                .is_none()
        );
        assert!(
            next_request(&secure, 300, &location("/x"))
                .unwrap()
                .is_none()
        );
    }
}
