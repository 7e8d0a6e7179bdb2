//! The headers every answer carries, set in one layer over the whole router rather than by
//! each handler, so a new route or a new refusal page cannot forget them.
//!
//! The run history's pages show what runs recorded (notebook paths, parameters, errors, log
//! lines): [`super::pages`] escapes all of it, and the policy below is the second line should
//! an escape ever be missed. The pages need exactly one `<style>` element, a filter form that
//! submits to `/runs` by GET and an operator's forms that post to this origin, links (navigation, which a policy does not restrict), and the
//! executed notebook's images, which the page carries itself as `data:` URIs; no script, font,
//! frame, fetch or image from elsewhere. So the policy allows inline styles, `data:` images
//! and forms to this origin and nothing else: an injected `<script>`, `<img src=…>` beacon or
//! `<base href>` does nothing, and no other site may frame the pages (clickjacking). Inline
//! styles stay allowed because the one stylesheet is inline; no value from a record or a
//! notebook reaches a `style` attribute or element. A `data:` image cannot run script: a
//! browser shows an SVG in `<img>` as a picture only (and the pages put only PNG and JPEG
//! there).
//!
//! `X-Content-Type-Options: nosniff` goes on every answer, JSON included, so that no browser
//! reads a JSON body (which holds the same recorded values) as HTML. `Referrer-Policy:
//! no-referrer` keeps run ids and filter words in a page's URL from leaking to the Cloud
//! Console or a storage emulator when a reader follows an object link.

use axum::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

/// What an HTML page may load and do: see the module's documentation.
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers to `response`: `nosniff` to all, the policy and the referrer rule to pages.
/// Synchronous, so that the layer maps each answer without a future of its own: a push may
/// wait minutes next to thousands of others, and each would keep that future.
pub(super) fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if is_html(headers) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        );
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
    response
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|kind| kind.to_str().ok())
        .is_some_and(|kind| {
            let media = kind.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("text/html")
        })
}

#[cfg(test)]
mod tests {
    use axum::Json;
    use axum::http::StatusCode;
    use axum::response::{Html, IntoResponse};

    use super::*;

    #[test]
    fn pages_get_the_policy_and_every_answer_nosniff() {
        let page = secure(Html("<p>x</p>").into_response());
        assert_eq!(page.headers()[CONTENT_SECURITY_POLICY], PAGE_POLICY);
        assert_eq!(page.headers()[REFERRER_POLICY], "no-referrer");
        assert_eq!(page.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        let upper = ([(CONTENT_TYPE, "Text/HTML; charset=utf-8")], "<p>x</p>").into_response();
        assert!(
            secure(upper)
                .headers()
                .contains_key(CONTENT_SECURITY_POLICY)
        );
        for answer in [
            Json(serde_json::json!({"a": 1})).into_response(),
            StatusCode::NOT_FOUND.into_response(),
            "ok\n".into_response(),
        ] {
            let answer = secure(answer);
            assert_eq!(answer.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert!(!answer.headers().contains_key(CONTENT_SECURITY_POLICY));
        }
    }
}
