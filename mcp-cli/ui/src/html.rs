//! Markup: [`Html`] is text already safe to put in a page, [`esc`] makes it
//! from anything else, and [`page`] wraps a body in the one layout (a skip
//! link, the navigation, the style sheet and the feed's script).

use std::fmt::Write as _;

/// Markup safe to put in a page as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Html(pub(crate) String);

impl Html {
    /// Appends `more`.
    pub(crate) fn push(&mut self, more: Html) {
        self.0.push_str(&more.0);
    }
}

/// `text` escaped for an element's content or a quoted attribute.
pub(crate) fn esc(text: &str) -> Html {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Html(out)
}

/// A link to `href` (a path of ours) reading `text`.
pub(crate) fn link(href: &str, text: &str) -> Html {
    Html(format!("<a href=\"{}\">{}</a>", esc(href).0, esc(text).0))
}

/// A state word, marked so the style sheet colours it.
pub(crate) fn state(word: &str) -> Html {
    let class = match word {
        "running" | "reachable" | "active" | "deployed" => "ok",
        "unknown" | "created" | "stopped" | "paused" => "idle",
        _ => "bad",
    };
    Html(format!(
        "<span class=\"state {class}\">{}</span>",
        esc(word).0
    ))
}

/// A table with a caption, `headers` and `rows`; "none" when there are none.
pub(crate) fn table(id: &str, caption: &str, headers: &[&str], rows: &[Vec<Html>]) -> Html {
    let mut out = format!(
        "<section aria-labelledby=\"{id}-h\"><h2 id=\"{id}-h\">{}</h2>",
        esc(caption).0
    );
    if rows.is_empty() {
        out.push_str("<p class=\"none\">None.</p></section>");
        return Html(out);
    }
    let _ = write!(out, "<table id=\"{id}\"><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h).0);
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", cell.0);
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
    Html(out)
}

/// Which page of the navigation is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Fleet,
    Events,
    Service,
}

/// A whole page: `title`, the navigation with `current` marked, `body`.
pub(crate) fn page(title: &str, current: Nav, body: Html) -> Html {
    let item = |nav: Nav, href: &str, text: &str, key: &str| {
        let here = if nav == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<li><a href=\"{href}\" accesskey=\"{key}\"{here}>{text}</a></li>")
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title} · mcp</title><link rel=\"stylesheet\" href=\"/style.css\">\
         <script src=\"/feed.js\" defer></script></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><nav aria-label=\"Pages\"><ul><li class=\"brand\">mcp</li>{}{}</ul></nav></header>\
         <main id=\"main\" tabindex=\"-1\"><h1>{title}</h1>{}</main>\
         <footer>Read-only. Keys: <kbd>f</kbd> fleet, <kbd>e</kbd> events, <kbd>/</kbd> the first link of the page.</footer>\
         </body></html>",
        item(Nav::Fleet, "/", "Fleet", "f"),
        item(Nav::Events, "/events", "Events", "e"),
        body.0,
        title = esc(title).0,
    ))
}

/// The style sheet: system colours for light and dark, a visible focus ring.
pub(crate) const STYLE: &str = r#":root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1f24; --muted: #59636e; --line: #d0d7de; --ok: #1a7f37; --bad: #cf222e; --idle: #9a6700; --link: #0550ae; --head: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --ok: #3fb950; --bad: #f85149; --idle: #d29922; --link: #4493f8; --head: #151b23; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.45 system-ui, sans-serif; }
header { background: var(--head); border-bottom: 1px solid var(--line); }
nav ul { display: flex; gap: 1.25rem; list-style: none; margin: 0; padding: .6rem 1.25rem; }
.brand { font-weight: 700; }
a { color: var(--link); }
a:focus-visible, main:focus-visible { outline: 3px solid var(--link); outline-offset: 2px; }
a[aria-current="page"] { font-weight: 700; text-decoration: none; }
.skip { position: absolute; left: -999px; top: .5rem; background: var(--bg); padding: .4rem .8rem; }
.skip:focus { left: .5rem; }
main { padding: 0 1.25rem 1.25rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; background: var(--head); }
.state.ok { color: var(--ok); } .state.bad { color: var(--bad); font-weight: 600; } .state.idle { color: var(--idle); }
.none, .note, footer { color: var(--muted); }
.error { color: var(--bad); }
footer { padding: .8rem 1.25rem; border-top: 1px solid var(--line); font-size: .85rem; }
kbd { border: 1px solid var(--line); border-radius: 3px; padding: 0 .3rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; } dt { color: var(--muted); } dd { margin: 0; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere_it_goes() {
        assert_eq!(
            esc("<a href='x'>&\"").0,
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        let t = table("t", "T", &["<h>"], &[vec![esc("<script>")]]);
        assert!(
            t.0.contains("&lt;h&gt;") && t.0.contains("&lt;script&gt;"),
            "{}",
            t.0
        );
        assert!(!t.0.contains("<script>"));
        let p = page("<x>", Nav::Fleet, Html::default());
        assert!(p.0.contains("<title>&lt;x&gt; · mcp</title>"));
        assert!(link("/services/a\"b", "a").0.contains("a&quot;b"));
    }
}
