//! The web pages: the agent desktop (`/agent`) and the supervisor
//! wallboard (`/wallboard`), with their scripts and style sheet.
//!
//! Plain HTML, CSS and JavaScript modules (no framework, no build step),
//! compiled into the binary: a fresh machine needs nothing else, and no
//! page loads anything from another host. The pages carry no data; their
//! scripts ask the API and follow the events WebSocket.
//!
//! Assets live under `/assets/{version}/`, where the version is a hash of
//! every page and asset: they may be cached for a year, since a build that
//! changes any of them changes their address. The pages are revalidated on
//! every load (`no-cache` with the version as their ETag), so a reload is
//! one `304 Not Modified` and nothing else.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;

/// A file served under `/assets/{version}/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../web/style.css"),
    },
    Asset {
        name: "common.js",
        content_type: JS,
        body: include_bytes!("../web/common.js"),
    },
    Asset {
        name: "agent.js",
        content_type: JS,
        body: include_bytes!("../web/agent.js"),
    },
    Asset {
        name: "wallboard.js",
        content_type: JS,
        body: include_bytes!("../web/wallboard.js"),
    },
    Asset {
        name: "gauge.js",
        content_type: JS,
        body: include_bytes!("../web/gauge.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../web/icon.svg"),
    },
];

/// The pages, by path. `@VERSION@` in them becomes [`version`].
const PAGES: &[(&str, &str)] = &[
    ("/agent", include_str!("../web/agent.html")),
    ("/wallboard", include_str!("../web/wallboard.html")),
];

/// Where the pages' scripts may connect and load from: this server only.
const CSP: &str = "default-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The pages and their assets.
pub fn routes() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new().route("/assets/{version}/{file}", get(asset));
    for (i, (path, _)) in PAGES.iter().enumerate() {
        router = router.route(
            path,
            get(move |headers: HeaderMap| async move { page(i, &headers) }),
        );
    }
    router
}

/// A hash of every page and asset (FNV-1a, 64 bits, in hex): it changes
/// whenever one of them does.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for b in bytes {
                hash ^= u64::from(*b);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for a in ASSETS {
            feed(a.name.as_bytes());
            feed(a.body);
        }
        for (path, html) in PAGES {
            feed(path.as_bytes());
            feed(html.as_bytes());
        }
        format!("{hash:016x}")
    })
}

fn rendered(i: usize) -> &'static str {
    static RENDERED: OnceLock<Vec<String>> = OnceLock::new();
    RENDERED.get_or_init(|| {
        PAGES
            .iter()
            .map(|(_, html)| html.replace("@VERSION@", version()))
            .collect()
    })[i]
        .as_str()
}

fn etag() -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", version()))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

fn page(i: usize, headers: &HeaderMap) -> Response {
    let etag = etag();
    let common = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, etag.clone()),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        rendered(i),
    )
        .into_response()
}

/// `GET /assets/{version}/{file}`. A page from an older build may still ask
/// for its old version: it gets today's file, not to be cached.
async fn asset(Path((v, file)): Path<(String, String)>) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.name == file) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no asset {file}\n"),
        )
            .into_response();
    };
    let cache = if v == version() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        a.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, if_none_match: Option<&str>) -> (StatusCode, HeaderMap, String) {
        let (tx, rx) = tokio::sync::watch::channel(crate::sip::Snapshot::default());
        let state = AppState::new(rx, std::time::Instant::now());
        let mut request = Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        let response = crate::http::router(state)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        drop(tx);
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
        headers
            .get(&name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// Every `/assets/...` address in a text.
    fn asset_refs(text: &str) -> Vec<String> {
        text.match_indices("/assets/")
            .map(|(at, _)| {
                text[at..]
                    .chars()
                    .take_while(|c| !matches!(c, '"' | '\'' | ')' | ' ' | '>'))
                    .collect()
            })
            .collect()
    }

    #[tokio::test]
    async fn pages_are_html_revalidated_by_version_and_name_only_existing_assets() {
        for (path, _) in PAGES {
            let (status, headers, body) = get(path, None).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(
                header(&headers, header::CONTENT_TYPE),
                "text/html; charset=utf-8"
            );
            assert_eq!(header(&headers, header::CACHE_CONTROL), "no-cache");
            let etag = header(&headers, header::ETAG).to_owned();
            assert_eq!(etag, format!("\"{}\"", version()));
            assert!(
                header(&headers, header::CONTENT_SECURITY_POLICY).contains("default-src 'self'")
            );
            assert!(!body.contains("@VERSION@"), "{path}: placeholder left");
            let refs = asset_refs(&body);
            assert!(refs.len() >= 2, "{path} loads {refs:?}");
            for r in refs {
                let (status, _, _) = get(&r, None).await;
                assert_eq!(status, StatusCode::OK, "{path} names {r}");
                assert!(r.starts_with(&format!("/assets/{}/", version())), "{r}");
            }
            // A reload with the tag is a 304 with no body.
            let (status, _, body) = get(path, Some(&etag)).await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
            assert!(body.is_empty());
            let (status, _, _) = get(path, Some("\"stale\"")).await;
            assert_eq!(status, StatusCode::OK);
        }
    }

    #[tokio::test]
    async fn assets_of_this_build_are_immutable_and_others_revalidated() {
        let current = format!("/assets/{}/agent.js", version());
        let (status, headers, body) = get(&current, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, header::CONTENT_TYPE), JS);
        assert!(header(&headers, header::CACHE_CONTROL).contains("immutable"));
        assert!(body.contains("import"), "agent.js is a module");
        let (status, headers, _) = get("/assets/0123456789abcdef/style.css", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, header::CACHE_CONTROL), "no-cache");
        assert_eq!(
            header(&headers, header::CONTENT_TYPE),
            "text/css; charset=utf-8"
        );
        let (status, _, _) = get(&format!("/assets/{}/nope.js", version()), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn scripts_import_only_assets_and_nothing_comes_from_another_host() {
        let mut imports = 0;
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = String::from_utf8_lossy(a.body);
            // `} from './x.js';` ends every import statement of these modules.
            for (at, _) in text.match_indices("} from ") {
                let quoted = text[at + 7..].split(';').next().unwrap_or_default();
                let name = quoted.trim_matches(|c| c == '\'' || c == '"');
                let name = name.strip_prefix("./").unwrap_or_else(|| {
                    panic!("{}: import of {name:?} is not a sibling asset", a.name)
                });
                assert!(
                    ASSETS.iter().any(|x| x.name == name),
                    "{} imports {name}, which is not served",
                    a.name
                );
                imports += 1;
            }
            assert!(
                !text.contains("import(") && !text.contains("importScripts"),
                "{}: dynamic imports are not checked here",
                a.name
            );
        }
        assert!(imports >= 2, "the pages' modules import common.js");
        let texts = ASSETS
            .iter()
            .map(|a| (a.name, String::from_utf8_lossy(a.body).into_owned()))
            .chain(PAGES.iter().map(|(p, h)| (*p, (*h).to_owned())));
        for (name, text) in texts {
            // The SVG namespace is a name, not an address anything is loaded from.
            let text = text.replace("http://www.w3.org/2000/svg", "");
            for bad in ["http://", "https://", "//cdn", "url(http", "url(//"] {
                assert!(!text.contains(bad), "{name} refers to {bad}");
            }
        }
    }

    #[test]
    fn the_version_is_a_stable_hash() {
        assert_eq!(version().len(), 16);
        assert_eq!(version(), version());
        assert!(version().chars().all(|c| c.is_ascii_hexdigit()));
    }
}
