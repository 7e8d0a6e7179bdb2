use serde_json::{Value, json};

use super::*;

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const URI: &str = "gs://b/runs/r0123456789abcdef/report.ipynb";

fn notebook(cells: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
        .unwrap()
}

fn code(source: &str, outputs: Value) -> Value {
    json!({"cell_type": "code", "execution_count": 3, "metadata": {}, "source": source,
           "outputs": outputs})
}

fn shown(bytes: Vec<u8>) -> String {
    section(
        &ExecutedNotebook::Read {
            uri: URI.into(),
            bytes,
        },
        &ObjectLinks::Console,
    )
}

#[test]
fn markdown_code_streams_tables_images_and_errors_are_shown() {
    let html = shown(notebook(json!([
        {"cell_type": "markdown", "metadata": {}, "source": ["# Sales\n", "*by* region"]},
        code("print(rows)\ndf", json!([
            {"output_type": "stream", "name": "stdout", "text": ["3 < 4\n"]},
            {"output_type": "stream", "name": "stderr", "text": "warning\n"},
            {"output_type": "execute_result", "execution_count": 3, "metadata": {}, "data": {
                "text/plain": "   a\n0  1",
                "text/html": "<div><style scoped>.x{}</style><table border=\"1\" class=\"dataframe\"><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table></div>"}},
            {"output_type": "display_data", "metadata": {}, "data": {
                "text/plain": "<Figure>", "image/png": format!("{}\n", PNG)}},
            {"output_type": "error", "ename": "ValueError", "evalue": "bad",
             "traceback": ["\u{1b}[0;31mValueError\u{1b}[0m: bad"]},
        ])),
        {"cell_type": "raw", "metadata": {}, "source": "<raw>"},
    ])));
    assert!(
        html.starts_with("<section id=\"notebook\"><h2>Notebook</h2>"),
        "{html}"
    );
    assert!(
        html.contains("<h1>Sales</h1>\n<p><em>by</em> region</p>"),
        "{html}"
    );
    assert!(html.contains(
        "<div class=\"prompt\">In [3]:</div><pre class=\"source\">print(rows)\ndf</pre>"
    ));
    assert!(
        html.contains("<pre class=\"stdout\">3 &lt; 4\n</pre>"),
        "{html}"
    );
    assert!(html.contains("<pre class=\"stderr\">warning\n</pre>"));
    assert!(
        html.contains(
            "<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>"
        ),
        "{html}"
    );
    assert!(
        !html.contains("dataframe") && !html.contains(".x{}"),
        "{html}"
    );
    assert!(html.contains(&format!(
        "<img alt=\"\" src=\"data:image/png;base64,{PNG}\">"
    )));
    assert!(
        html.contains("<pre class=\"error\">ValueError: bad</pre>"),
        "{html}"
    );
    assert!(html.contains("<pre class=\"cell raw\">&lt;raw&gt;</pre>"));
}

/// What a hostile notebook may write, in every place it can write it.
const HOSTILE_HTML: &str = "<script>document.title='x'</script>\
    <img src=x onerror=alert(1)><a href=\"javascript:alert(2)\" onclick=\"alert(3)\">click</a>\
    <svg><script>alert(4)</script><a xlink:href=\"javascript:alert(5)\">s</a></svg>\
    <style>body{background:url(http://evil.test/beacon)}</style>\
    <iframe src=\"javascript:alert(6)\"></iframe><object data=\"x\"></object>\
    <form action=\"http://evil.test\"><input name=a></form>\
    <p style=\"background:url(http://evil.test/b)\" id=\"error\" class=\"state\">text</p>\
    <a href=\"/runs?state=failed\">inside</a><a href=\"https://example.test/\">fine</a>\
    <math><mi xlink:href=\"javascript:alert(7)\">m</mi></math><base href=\"http://evil.test/\">\
    <meta http-equiv=\"refresh\" content=\"0;url=http://evil.test\"><link rel=stylesheet href=x>";

fn hostile_notebook() -> Vec<u8> {
    let not_png = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(8)\"/>",
    );
    notebook(json!([
        {"cell_type": "markdown", "source": format!("[x](javascript:alert(9)) {HOSTILE_HTML}")},
        {"cell_type": "code", "execution_count": "<script>alert(10)</script>",
         "source": HOSTILE_HTML, "outputs": [
            {"output_type": "stream", "name": "\"><script>alert(11)</script>", "text": HOSTILE_HTML},
            {"output_type": "display_data", "data": {"text/html": [HOSTILE_HTML]}},
            {"output_type": "display_data", "data": {"text/markdown": HOSTILE_HTML}},
            {"output_type": "display_data", "data": {
                "image/png": format!("{PNG}\"><script>alert(12)</script>"),
                "text/plain": "quoted \" > plain"}},
            {"output_type": "display_data", "data": {"image/png": not_png}},
            {"output_type": "display_data", "data": {"image/svg+xml": HOSTILE_HTML,
                "application/javascript": "alert(13)"}},
            {"output_type": "error", "ename": HOSTILE_HTML, "evalue": "", "traceback": [HOSTILE_HTML]},
        ]},
    ]))
}

#[test]
fn nothing_a_notebook_writes_can_run_load_or_pose_as_the_page() {
    let html = shown(hostile_notebook());
    // Text is escaped, so every `<` opens a tag the renderer or the policy let through.
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("").to_ascii_lowercase();
        let name = tag.split_whitespace().next().unwrap_or("");
        let banned = [
            "script", "img", "iframe", "object", "svg", "math", "style", "form", "input", "base",
            "meta", "link",
        ];
        assert!(!banned.contains(&name) || name == "img", "<{tag}>");
        let attributes: Vec<&str> = tag.split_whitespace().skip(1).collect();
        assert!(
            !attributes
                .iter()
                .any(|a| a.starts_with("on") || a.starts_with("style")),
            "<{tag}>"
        );
        for bad in [
            "javascript:",
            "url(",
            "evil.test",
            "/runs?",
            "id=\"error\"",
            "\"state",
        ] {
            assert!(!tag.contains(bad), "`{bad}` in <{tag}>");
        }
    }
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the source is shown as text"
    );
    assert!(
        html.contains(
            "<a href=\"https://example.test/\" rel=\"noopener noreferrer nofollow\">fine</a>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<pre class=\"stdout\">quoted &quot; &gt; plain</pre>"),
        "{html}"
    );
    assert!(
        html.contains("(an output not shown here: application/javascript, image/svg+xml)"),
        "{html}"
    );
    assert!(html.contains("In [ ]:"), "{html}");
    for img in html.split("<img ").skip(1) {
        assert!(
            img.starts_with("alt=\"\" src=\"data:image/png;base64,"),
            "{img}"
        );
    }
    // Every attribute value is closed where it should be: quotes pair up in each tag.
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        assert_eq!(tag.matches('"').count() % 2, 0, "<{tag}>");
    }
}

#[test]
fn the_page_policy_allows_the_images_a_notebook_shows_and_no_script() {
    let policy = crate::http::headers::PAGE_POLICY;
    assert!(policy.contains("img-src data:;"), "{policy}");
    assert!(!policy.contains("script-src") && policy.contains("default-src 'none'"));
}

#[test]
fn a_large_notebook_is_cut_with_a_link_to_the_whole() {
    let stream = json!([{"output_type": "stream", "name": "stdout", "text": "x".repeat(60_000)}]);
    let cells: Vec<Value> = (0..200)
        .map(|i| code(&format!("cell {i}"), stream.clone()))
        .collect();
    let html = shown(notebook(Value::Array(cells)));
    assert!(html.len() <= MAX_RENDERED + 1024, "{}", html.len());
    let cut = html
        .split("<p class=\"warning\" id=\"notebook-cut\">")
        .nth(1)
        .expect("cut");
    assert!(cut.contains("of its 200 cells shown whole"), "{cut}");
    assert!(cut.contains(
        "<a href=\"https://console.cloud.google.com/storage/browser/_details/b/runs/r0123456789abcdef/report.ipynb\">download it</a>"
    ), "{cut}");
    assert_eq!(
        html.matches("<div").count(),
        html.matches("</div>").count(),
        "boxes closed"
    );

    let long = shown(notebook(json!([code(
        &"y".repeat(MAX_TEXT + 10),
        json!([])
    )])));
    assert!(
        long.contains("\n… (10 more bytes not shown)</pre>"),
        "{}",
        long.len()
    );
    let big = format!("{PNG}{}", "A".repeat(MAX_IMAGE));
    let image = shown(notebook(json!([code(
        "plot()",
        json!([
        {"output_type": "display_data", "data": {"image/png": big}}])
    )])));
    assert!(
        image.contains("too large to show here") && !image.contains("<img"),
        "{}",
        image.len()
    );
}

#[test]
fn what_cannot_be_shown_says_why_and_links_the_whole() {
    assert_eq!(
        section(&ExecutedNotebook::Absent, &ObjectLinks::Console),
        ""
    );
    let large = section(
        &ExecutedNotebook::TooLarge { uri: URI.into() },
        &ObjectLinks::Console,
    );
    assert!(
        large.contains("larger than 16 MiB") && large.contains("download it</a>"),
        "{large}"
    );
    let unreadable = section(
        &ExecutedNotebook::Unreadable {
            uri: "<b>".into(),
            reason: "<script>403".into(),
        },
        &ObjectLinks::Console,
    );
    assert!(
        unreadable.contains("cannot be shown: &lt;script&gt;403 (it is &lt;b&gt;)"),
        "{unreadable}"
    );
    for bytes in [
        b"{not json".to_vec(),
        b"[1, 2]".to_vec(),
        b"{\"cells\": 3}".to_vec(),
    ] {
        let html = shown(bytes);
        assert!(html.contains("not one this page can read"), "{html}");
    }
}
