//! The web client's static files (`web/dist`, built by `npm run build` in `web/`),
//! served at `/` by the router's fallback so that no API route can be shadowed:
//! a `GET` or `HEAD` whose path names a file under the directory gets that file
//! with its content type; a browser navigation to any other path (`Accept:
//! text/html`, no file extension) gets `index.html`, so client routes survive a
//! reload; everything else falls through to the API's `RouteNotFound` problem.
//!
//! Vite names bundles with a content hash (`assets/index-3fA9xQ2b.js`): those are
//! cached for a year as immutable; every other file is revalidated by its ETag
//! (length and modification time), so a rebuilt client is picked up at once.
//! When the directory holds no `index.html`, `/` answers a page that says how to
//! build it.

use std::convert::Infallible;
use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::UNIX_EPOCH;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt as _;

/// The environment variable naming the built client's directory.
pub(crate) const WEB_DIR_ENV: &str = "TWINSPACE_WEB_DIR";

/// Where the client is found when `TWINSPACE_WEB_DIR` is not set: the `web/dist`
/// of the source tree this binary was built from, which is where `scripts/demo`
/// and `scripts/test` build it.
const SOURCE_TREE_WEB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/dist");

/// Largest file served. The client's bundles and generated GLB assets are a few
/// MiB at most; anything far larger in that directory is a mistake, and reading
/// it whole into memory per request would let one request hold a lot of it.
const FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Longest request path considered for a file (longer ones cannot name one of
/// the client's files and are not worth a file-system look-up).
const PATH_CHARS_MAX: usize = 512;

/// A year: the longest `max-age` caches honour, for content-hashed bundles.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The policy for the client's pages: scripts and styles only from this server
/// (three.js's loaders make `blob:` URLs for textures), connections back to it
/// over HTTP and WebSocket.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
    connect-src 'self' ws: wss:; worker-src 'self' blob:; object-src 'none'; \
    base-uri 'none'; frame-ancestors 'none'";

/// The built web client's directory, as a tower service for the router's
/// fallback. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    root: Arc<PathBuf>,
}

impl Site {
    /// The directory named by `TWINSPACE_WEB_DIR`, or else the source tree's
    /// `web/dist`. Whether it exists is checked per request, so building the
    /// client while the server runs makes it appear without a restart.
    pub(crate) fn locate() -> Site {
        match std::env::var_os(WEB_DIR_ENV) {
            Some(dir) if !dir.is_empty() => Site::at(PathBuf::from(dir)),
            _ => Site::at(PathBuf::from(SOURCE_TREE_WEB_DIR)),
        }
    }

    /// The client built into `root`.
    pub(crate) fn at(root: PathBuf) -> Site {
        Site {
            root: Arc::new(root),
        }
    }

    async fn respond(self, request: Request<Body>) -> Response {
        let (parts, _body) = request.into_parts();
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return super::fallback(parts.uri).await.into_response();
        }
        let head = parts.method == Method::HEAD;
        let path = parts.uri.path();
        let built = self.root.join("index.html");
        if path == "/" || path == "/index.html" {
            return match file_response(&built, &parts.headers, head).await {
                Some(response) => response,
                None => not_built(&self.root, head),
            };
        }
        if let Some(relative) = relative_path(path) {
            let file = self.root.join(&relative);
            if let Some(response) = file_response(&file, &parts.headers, head).await {
                return response;
            }
        }
        if is_navigation(path, &parts.headers) {
            return match file_response(&built, &parts.headers, head).await {
                Some(response) => response,
                None => not_built(&self.root, head),
            };
        }
        super::fallback(parts.uri).await.into_response()
    }
}

impl tower::Service<Request<Body>> for Site {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let site = self.clone();
        Box::pin(async move { Ok(site.respond(request).await) })
    }
}

/// The request path as a relative path inside the directory, or `None` when it
/// cannot name a file there: percent-escapes, `..`, hidden segments (`.git`),
/// backslashes and empty segments are refused rather than interpreted.
fn relative_path(path: &str) -> Option<PathBuf> {
    if path.len() > PATH_CHARS_MAX || path.contains(['%', '\\', '\0']) {
        return None;
    }
    let trimmed = path.strip_prefix('/')?;
    let mut relative = PathBuf::new();
    for segment in trimmed.split('/') {
        if segment.is_empty() || segment.starts_with('.') {
            return None;
        }
        relative.push(segment);
    }
    // The segments were checked one by one; this says why it is safe to join.
    debug_assert!(
        relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    );
    Some(relative)
}

/// Whether a request is a browser opening a page of the client (to be answered
/// with `index.html`): it accepts HTML and its last segment has no extension.
fn is_navigation(path: &str, headers: &HeaderMap) -> bool {
    let accepts_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    let last = path.rsplit('/').next().unwrap_or("");
    accepts_html && !last.contains('.')
}

/// The content type of a file by its extension.
fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("glb") => "model/gltf-binary",
        Some("gltf") => "model/gltf+json",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Length of the content hash Vite puts in bundle names (`[name]-[hash]`).
const BUILD_HASH_CHARS: usize = 8;

/// Whether a file name carries a build hash (`name-<8 letters, digits, _ or ->.ext`
/// under `assets/`, as Vite writes them; the hash itself may hold `-`): its
/// content never changes under that name.
fn is_hashed(path: &Path) -> bool {
    let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
        return false;
    };
    let in_assets = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|p| p == "assets");
    let Some(split) = stem.len().checked_sub(BUILD_HASH_CHARS + 1) else {
        return false;
    };
    // `get` rather than slicing: a non-ASCII name must not panic.
    let (Some(name), Some(hash)) = (stem.get(..split), stem.get(split..)) else {
        return false;
    };
    in_assets
        && !name.is_empty()
        && hash.starts_with('-')
        && hash[1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The file's response, or `None` when it is not a readable regular file.
async fn file_response(path: &Path, headers: &HeaderMap, head: bool) -> Option<Response> {
    let metadata = tokio::fs::metadata(path).await.ok()?;
    if !metadata.is_file() {
        return None;
    }
    let length = metadata.len();
    if length > FILE_BYTES_MAX {
        tracing::warn!(path = %path.display(), length, "web file larger than FILE_BYTES_MAX not served");
        return None;
    }
    let modified_ns = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!("\"{length:x}-{modified_ns:x}\"");
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = if head {
            Body::empty()
        } else {
            let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
            let file = tokio::fs::File::open(path).await.ok()?;
            // Bounded even if the file grows between the look-up and the read.
            file.take(FILE_BYTES_MAX)
                .read_to_end(&mut bytes)
                .await
                .ok()?;
            Body::from(bytes)
        };
        let mut response = Response::new(body);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(path)),
        );
        if head {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    let cache = if is_hashed(path) {
        IMMUTABLE
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if content_type(path).starts_with("text/html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    Some(response)
}

/// The page shown when the client has not been built (or the directory is wrong).
fn not_built(root: &Path, head: bool) -> Response {
    let root = root.display().to_string();
    let escaped = root
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Twinspace: web client not built</title>\
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:4rem auto;padding:0 1rem;color:#1d2733}}\
code,pre{{background:#eef2f6;padding:.1rem .3rem;border-radius:4px}}pre{{padding:.8rem}}</style></head><body>\
<h1>The web client is not built</h1>\
<p>This Twinspace server is running and its API answers, but it found no built web client in \
<code>{escaped}</code>.</p>\
<p>Build it from the repository root (needs Node.js 20 and npm):</p>\
<pre>cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>\
<p>or point the server at a built copy with the environment variable <code>{WEB_DIR_ENV}</code> \
and reload this page. <code>./scripts/demo</code> builds it for you.</p></body></html>"
    );
    let body = if head {
        Body::empty()
    } else {
        Body::from(page)
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

    fn site() -> (tempfile::TempDir, Router) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.html"),
            "<!doctype html><title>client</title>",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(
            dir.path().join("assets/index-AbC12_x9.js"),
            "console.log(1)",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("glb")).unwrap();
        std::fs::write(dir.path().join("glb/conveyor.glb"), b"glTF\x02\0\0\0").unwrap();
        std::fs::write(dir.path().join(".secret"), "no").unwrap();
        let router = Router::new()
            .route("/api", axum::routing::get(|| async { "api" }))
            .fallback_service(Site::at(dir.path().to_path_buf()));
        (dir, router)
    }

    async fn get(router: &Router, path: &str, headers: &[(&str, &str)]) -> (Response, Vec<u8>) {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes().to_vec();
        (Response::from_parts(parts, Body::empty()), bytes)
    }

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn the_index_is_served_at_the_root_with_its_policy() {
        let (_dir, router) = site();
        let (response, body) = get(&router, "/", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(header_of(&response, header::CACHE_CONTROL), "no-cache");
        assert!(header_of(&response, header::CONTENT_SECURITY_POLICY).contains("default-src"));
        assert_eq!(body, b"<!doctype html><title>client</title>");
    }

    #[tokio::test]
    async fn hashed_bundles_are_immutable_and_other_files_revalidate() {
        let (_dir, router) = site();
        let (bundle, body) = get(&router, "/assets/index-AbC12_x9.js", &[]).await;
        assert_eq!(bundle.status(), StatusCode::OK);
        assert_eq!(
            header_of(&bundle, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header_of(&bundle, header::CACHE_CONTROL), IMMUTABLE);
        assert_eq!(body, b"console.log(1)");
        let (glb, _) = get(&router, "/glb/conveyor.glb", &[]).await;
        assert_eq!(header_of(&glb, header::CONTENT_TYPE), "model/gltf-binary");
        assert_eq!(header_of(&glb, header::CACHE_CONTROL), "no-cache");
        let etag = header_of(&glb, header::ETAG).to_owned();
        assert!(etag.starts_with('"'), "{etag}");
        let (again, body) = get(&router, "/glb/conveyor.glb", &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn browser_navigations_get_the_index_and_api_clients_get_a_problem() {
        let (_dir, router) = site();
        let (page, body) = get(&router, "/w/factory", &[("accept", "text/html,*/*")]).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(body, b"<!doctype html><title>client</title>");
        let (missing, body) = get(&router, "/w/factory", &[("accept", "application/json")]).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["error"]["code"], "RouteNotFound");
        // A missing file is a 404 even for a browser: it is not a page.
        let (asset, _) = get(&router, "/glb/nothing.glb", &[("accept", "text/html")]).await;
        assert_eq!(asset.status(), StatusCode::NOT_FOUND);
        // Routes of the router are never shadowed.
        let (api, body) = get(&router, "/api", &[("accept", "text/html")]).await;
        assert_eq!(api.status(), StatusCode::OK);
        assert_eq!(body, b"api");
    }

    #[tokio::test]
    async fn paths_outside_the_directory_or_hidden_are_refused() {
        let (_dir, router) = site();
        for path in [
            "/../Cargo.toml",
            "/assets/../.secret",
            "/.secret",
            "/%2e%2e/etc/passwd",
            "/glb//conveyor.glb",
            "/glb\\conveyor.glb",
        ] {
            let (response, _) = get(&router, path, &[]).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[tokio::test]
    async fn a_missing_client_gets_a_page_saying_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let router = Router::new().fallback_service(Site::at(dir.path().join("dist")));
        let (response, body) = get(&router, "/", &[]).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("npm run build"), "{text}");
        assert!(text.contains(WEB_DIR_ENV), "{text}");
    }

    #[tokio::test]
    async fn head_answers_the_length_without_a_body() {
        let (_dir, router) = site();
        let response = router
            .clone()
            .oneshot(
                Request::head("/assets/index-AbC12_x9.js")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header_of(&response, header::CONTENT_LENGTH), "14");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.is_empty());
    }

    #[test]
    fn hashes_are_recognised_only_under_assets() {
        assert!(is_hashed(Path::new("/d/assets/index-BxQ3_9aZ.js")));
        // Vite's hashes may contain `-` themselves.
        assert!(is_hashed(Path::new("/d/assets/index-B-pxtHJ3.js")));
        assert!(!is_hashed(Path::new("/d/assets/-B-pxtHJ3.js")));
        assert!(!is_hashed(Path::new("/d/assets/a.js")));
        assert!(!is_hashed(Path::new("/d/assets/logo.svg")));
        assert!(!is_hashed(Path::new("/d/glb/robot-arm.glb")));
        assert!(!is_hashed(Path::new("/d/index-BxQ3_9aZ.js")));
    }
}
