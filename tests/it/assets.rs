//! Static files under content-hashed names with a year's `immutable` cache, `ETag`s, and
//! brotli/gzip by `Accept-Encoding`; pages compressed above a size.

use std::io::Read;

use rocket::http::{Header, Status};

use crate::common::*;

/// The `/static/` URLs a page refers to.
fn static_links(html: &str) -> Vec<String> {
    html.split('"')
        .filter(|s| s.starts_with("/static/"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn pages_name_static_files_by_their_content_and_they_are_cached_for_a_year() {
    let lab = Lab::new();
    let page = lab.client.get("/login").dispatch().into_string().unwrap();
    let links = static_links(&page);
    assert_eq!(links.len(), 4, "{links:?}");
    for link in &links {
        let file = link.rsplit('/').next().unwrap();
        let parts: Vec<&str> = file.split('.').collect();
        assert!(parts.len() >= 3, "{file}");
        let hash = parts[parts.len() - 2];
        assert!(
            hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{file}"
        );
        let resp = lab.client.get(link.clone()).dispatch();
        assert_eq!(resp.status(), Status::Ok, "{link}");
        assert_eq!(
            resp.headers().get_one("Cache-Control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(
            resp.headers().get_one("ETag"),
            Some(format!("\"{hash}\"").as_str())
        );
        // The plain name still answers, with a short cache and the same ETag.
        let plain = link.replace(&format!(".{hash}"), "");
        let resp = lab.client.get(plain.clone()).dispatch();
        assert_eq!(resp.status(), Status::Ok, "{plain}");
        assert_eq!(
            resp.headers().get_one("Cache-Control"),
            Some("public, max-age=3600")
        );
        assert_eq!(
            resp.headers().get_one("ETag"),
            Some(format!("\"{hash}\"").as_str())
        );
    }
    let wrong = lab.client.get("/static/app.00000000.css").dispatch();
    assert_eq!(wrong.status(), Status::NotFound);
}

#[test]
fn a_known_etag_gets_304_without_a_body() {
    let lab = Lab::new();
    let resp = lab.client.get("/static/app.css").dispatch();
    let etag = resp.headers().get_one("ETag").unwrap().to_owned();
    let resp = lab
        .client
        .get("/static/app.css")
        .header(Header::new("If-None-Match", etag.clone()))
        .dispatch();
    assert_eq!(resp.status(), Status::NotModified);
    assert!(resp.into_bytes().unwrap_or_default().is_empty());
    let resp = lab
        .client
        .get("/static/app.css")
        .header(Header::new("If-None-Match", "\"deadbeef\""))
        .dispatch();
    assert_eq!(resp.status(), Status::Ok);
}

/// Fetches `uri` asking for `encoding` until the compressed forms are ready (they are made
/// on a background thread after start); returns (Content-Encoding, Vary, body).
fn fetch(lab: &Lab, uri: &str, encoding: &str) -> (Option<String>, String, Vec<u8>) {
    for _ in 0..200 {
        let resp = lab
            .client
            .get(uri.to_owned())
            .header(Header::new("Accept-Encoding", encoding.to_owned()))
            .dispatch();
        assert_eq!(resp.status(), Status::Ok);
        let coding = resp
            .headers()
            .get_one("Content-Encoding")
            .map(str::to_owned);
        let vary = resp.headers().get("Vary").collect::<Vec<_>>().join(", ");
        let body = resp.into_bytes().unwrap();
        if coding.is_some() || encoding == "identity" {
            return (coding, vary, body);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{uri} never came compressed");
}

#[test]
fn static_files_come_in_brotli_or_gzip_as_asked() {
    let lab = Lab::new();
    let (coding, vary, plain) = fetch(&lab, "/static/htmx.min.js", "identity");
    assert_eq!(coding, None);
    assert!(vary.contains("Accept-Encoding"), "{vary}");

    let (coding, vary, body) = fetch(&lab, "/static/htmx.min.js", "gzip, deflate, br");
    assert_eq!(coding.as_deref(), Some("br"));
    assert!(vary.contains("Accept-Encoding"), "{vary}");
    let mut back = Vec::new();
    brotli::BrotliDecompress(&mut &body[..], &mut back).unwrap();
    assert_eq!(back, plain);
    assert!(
        body.len() * 3 < plain.len(),
        "{} of {}",
        body.len(),
        plain.len()
    );

    let (coding, _, body) = fetch(&lab, "/static/htmx.min.js", "gzip;q=1, br;q=0");
    assert_eq!(coding.as_deref(), Some("gzip"));
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, plain);
}

#[test]
fn pages_are_compressed_above_a_size_and_small_answers_are_not() {
    let lab = Lab::new();
    let password = lab.add_user("alice", false);
    lab.login("alice", &password);
    let (_, _, plain) = fetch(&lab, "/sshkeys", "identity");
    let (coding, vary, body) = fetch(&lab, "/sshkeys", "gzip");
    assert_eq!(coding.as_deref(), Some("gzip"));
    assert!(
        vary.contains("Accept-Encoding") && vary.contains("HX-Request"),
        "{vary}"
    );
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut back)
        .unwrap();
    // The CSRF token is the same within a session, so the page is the same apart from times.
    assert_eq!(back.len(), plain.len());
    let (coding, _, body) = fetch(&lab, "/sshkeys", "br");
    assert_eq!(coding.as_deref(), Some("br"));
    let mut back = Vec::new();
    brotli::BrotliDecompress(&mut &body[..], &mut back).unwrap();
    assert!(String::from_utf8(back)
        .unwrap()
        .contains("upload new public key"));

    let small = lab
        .client
        .get("/alive")
        .header(Header::new("Accept-Encoding", "gzip, br"))
        .dispatch();
    assert_eq!(small.headers().get_one("Content-Encoding"), None);
}
