//! HTML a notebook wrote, made safe to put in a page: an HTML output (a DataFrame's table),
//! and markdown, which may hold HTML of its own. Both go through one `ammonia` policy.
//!
//! The policy keeps structure and text (tables, lists, headings, emphasis, code, links) and
//! drops everything that runs or loads: `script` and `style` with their content, every event
//! handler and `style` attribute, `iframe`, `object`, `svg`, `form`, and `img` (the page's
//! images come only from image outputs, checked to be PNG or JPEG). Links keep `http`,
//! `https` and `mailto` URLs only (no `javascript:`, no relative URL into the service) and
//! get `rel="noopener noreferrer nofollow"`. No `id` or `class` survives, so nothing a
//! notebook writes can pose as a part of the page.

use std::collections::HashSet;
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Options, Parser, html};

static POLICY: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut policy = Builder::default();
    policy
        .rm_tags(["img"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"));
    policy
});

/// `untrusted` HTML with only what the policy keeps.
pub fn html(untrusted: &str) -> String {
    POLICY.clean(untrusted).to_string()
}

/// `markdown` (CommonMark with tables and strikethrough) as safe HTML.
pub fn markdown(markdown: &str) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    );
    let mut rendered = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut rendered, parser);
    html(&rendered)
}
