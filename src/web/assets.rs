//! Static files and response compression.
//!
//! Every file under `web/static/` is served twice: under its plain name (`/static/app.css`,
//! cached for an hour) and under a content-hashed name (`/static/app.3f2a1c9d.css`, cached for a
//! year as `immutable`), which pages use through the template function `asset("app.css")`, so
//! a new release changes the name and no browser keeps an old file. Each file carries an
//! `ETag` (its hash) and answers `If-None-Match` with 304. Its gzip and brotli forms are made
//! once, on a background thread right after start (start-up does not wait for them; until they
//! are ready the file goes out uncompressed), and chosen by `Accept-Encoding` with
//! `Vary: Accept-Encoding`.
//!
//! Pages and fragments above [`COMPRESS_ABOVE`] bytes are compressed per response by
//! [`Compression`]. That is safe from BREACH-style guessing of the CSRF token because the
//! session cookie is `SameSite=Strict`: a page another site makes the browser load carries no
//! session, so it holds no secret.

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::{Arc, OnceLock};

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{get, State};
use sha2::{Digest, Sha256};

use super::Assets;

/// Responses smaller than this go out as they are: compressing them saves less than a packet.
pub const COMPRESS_ABOVE: usize = 1400;

/// A file's `(gzip, brotli)` forms, each kept only when smaller than the file.
type Packed = (Option<Vec<u8>>, Option<Vec<u8>>);

/// One static file, with its compressed forms once made.
struct StaticFile {
    content_type: ContentType,
    data: Vec<u8>,
    /// The first 8 hex digits of the SHA-256 of `data`: the `ETag` and the hashed name.
    hash: String,
    packed: OnceLock<Packed>,
}

/// The embedded static files, by name and by hashed name (managed state).
#[derive(Clone)]
pub struct StaticFiles(Arc<Inner>);

struct Inner {
    files: Vec<StaticFile>,
    /// URL name (plain or hashed) -> (index in `files`, whether the name is the hashed one).
    by_name: HashMap<String, (usize, bool)>,
    /// Plain name -> `/static/` URL with the hashed name.
    urls: HashMap<String, String>,
}

impl StaticFiles {
    /// Reads every embedded static file and names it by its content; compression starts on a
    /// background thread.
    pub fn load() -> StaticFiles {
        let mut inner = Inner {
            files: Vec::new(),
            by_name: HashMap::new(),
            urls: HashMap::new(),
        };
        for path in Assets::iter() {
            let Some(name) = path.strip_prefix("static/") else {
                continue;
            };
            let Some(file) = Assets::get(&path) else {
                continue;
            };
            let data = file.data.into_owned();
            let hash: String = Sha256::digest(&data)[..4]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let extension = name.rsplit_once('.').map(|(_, e)| e);
            let content_type = extension
                .and_then(ContentType::from_extension)
                .unwrap_or(ContentType::Binary);
            let hashed = match name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
                None => format!("{name}.{hash}"),
            };
            let index = inner.files.len();
            inner.files.push(StaticFile {
                content_type,
                data,
                hash,
                packed: OnceLock::new(),
            });
            inner.by_name.insert(name.to_owned(), (index, false));
            inner
                .urls
                .insert(name.to_owned(), format!("/static/{hashed}"));
            inner.by_name.insert(hashed, (index, true));
        }
        let files = StaticFiles(Arc::new(inner));
        let worker = files.clone();
        std::thread::spawn(move || {
            for file in &worker.0.files {
                file.packed.get_or_init(|| pack(&file.data, 11));
            }
        });
        files
    }

    /// The URL of the static file `name` under its content-hashed name (the plain URL when
    /// there is no such file, which then answers 404).
    pub fn url(&self, name: &str) -> String {
        self.0
            .urls
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("/static/{name}"))
    }
}

/// `(gzip, brotli)` of `data` at brotli `quality`, each only when it is smaller.
fn pack(data: &[u8], quality: u32) -> Packed {
    let gzip = {
        let level = if quality >= 9 { 9 } else { 5 };
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        enc.write_all(data).and_then(|_| enc.finish()).ok()
    };
    let br = {
        let mut out = Vec::new();
        // A 256 KiB window covers every file we ship and keeps the encoder's memory small.
        let params = brotli::enc::BrotliEncoderParams {
            quality: quality as i32,
            lgwin: 18,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut Cursor::new(data), &mut out, &params)
            .ok()
            .map(|_| out)
    };
    let smaller = |v: Option<Vec<u8>>| v.filter(|v| v.len() < data.len());
    (smaller(gzip), smaller(br))
}

/// Content codings the request accepts (`q=0` means refused).
fn accepts(req: &Request<'_>, coding: &str) -> bool {
    req.headers().get("Accept-Encoding").any(|value| {
        value.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name.eq_ignore_ascii_case(coding) && !refused
        })
    })
}

/// The best encoding of `gzip`/`br` forms the request accepts: `(coding, body)`.
fn choose<'a>(
    req: &Request<'_>,
    gzip: Option<&'a [u8]>,
    br: Option<&'a [u8]>,
) -> Option<(&'static str, &'a [u8])> {
    if let Some(br) = br.filter(|_| accepts(req, "br")) {
        return Some(("br", br));
    }
    gzip.filter(|_| accepts(req, "gzip")).map(|g| ("gzip", g))
}

/// A static file's reply.
pub struct StaticReply {
    files: StaticFiles,
    index: usize,
    immutable: bool,
}

impl<'r> Responder<'r, 'static> for StaticReply {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let file = &self.files.0.files[self.index];
        let etag = format!("\"{}\"", file.hash);
        let cache = if self.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=3600"
        };
        let mut resp = Response::build();
        resp.header(Header::new("Cache-Control", cache))
            .header(Header::new("ETag", etag.clone()))
            .header(Header::new("Vary", "Accept-Encoding"));
        let matched = req
            .headers()
            .get("If-None-Match")
            .flat_map(|v| v.split(','))
            .any(|tag| {
                let tag = tag.trim();
                tag == "*" || tag.trim_start_matches("W/") == etag
            });
        if matched {
            return resp.status(Status::NotModified).ok();
        }
        resp.header(file.content_type.clone());
        let packed = file.packed.get();
        let chosen = packed.and_then(|(g, b)| choose(req, g.as_deref(), b.as_deref()));
        let body = match chosen {
            Some((coding, body)) => {
                resp.raw_header("Content-Encoding", coding);
                body.to_vec()
            }
            None => file.data.clone(),
        };
        resp.sized_body(body.len(), Cursor::new(body)).ok()
    }
}

#[get("/static/<file..>")]
pub(super) fn get_static(
    file: std::path::PathBuf,
    files: &State<StaticFiles>,
) -> Option<StaticReply> {
    let name = file.to_str()?;
    let (index, immutable) = *files.0.by_name.get(name)?;
    Some(StaticReply {
        files: files.inner().clone(),
        index,
        immutable,
    })
}

/// Compresses HTML, JSON and text answers above 1,400 bytes (`COMPRESS_ABOVE`) for clients that accept
/// brotli or gzip (a fast setting: this runs per response).
pub struct Compression;

#[rocket::async_trait]
impl Fairing for Compression {
    fn info(&self) -> Info {
        Info {
            name: "response compression",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, resp: &mut Response<'r>) {
        if resp.headers().contains("Content-Encoding") || req.uri().path().starts_with("/static/") {
            return;
        }
        let compressible = resp
            .content_type()
            .is_some_and(|t| t.is_html() || t.is_json() || t.is_plain());
        let big = resp
            .body()
            .preset_size()
            .is_some_and(|n| n > COMPRESS_ABOVE);
        if !compressible || !big || !(accepts(req, "br") || accepts(req, "gzip")) {
            return;
        }
        let Ok(body) = resp.body_mut().to_bytes().await else {
            resp.set_status(Status::InternalServerError);
            return;
        };
        let (gzip, br) = if accepts(req, "br") {
            (None, pack_one_br(&body))
        } else {
            (pack(&body, 4).0, None)
        };
        match choose(req, gzip.as_deref(), br.as_deref()) {
            Some((coding, packed)) => {
                let packed = packed.to_vec();
                resp.set_raw_header("Content-Encoding", coding);
                resp.set_sized_body(packed.len(), Cursor::new(packed));
            }
            None => resp.set_sized_body(body.len(), Cursor::new(body)),
        }
        resp.adjoin_raw_header("Vary", "Accept-Encoding");
    }
}

/// Brotli at a quality fast enough for every response, when smaller.
fn pack_one_br(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 4,
        lgwin: 20,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut Cursor::new(data), &mut out, &params).ok()?;
    (out.len() < data.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_static_file_has_a_hashed_name() {
        let files = StaticFiles::load();
        let url = files.url("app.css");
        let name = url.strip_prefix("/static/").unwrap();
        assert!(name.starts_with("app.") && name.ends_with(".css") && name.len() == 16);
        assert_eq!(files.0.by_name.get(name).map(|e| e.1), Some(true));
        assert_eq!(files.0.by_name.get("app.css").map(|e| e.1), Some(false));
    }

    #[test]
    fn packing_round_trips() {
        let data = "labgate ".repeat(500).into_bytes();
        let (gzip, br) = pack(&data, 11);
        let mut back = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&gzip.unwrap()[..]),
            &mut back,
        )
        .unwrap();
        assert_eq!(back, data);
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut Cursor::new(br.unwrap()), &mut back).unwrap();
        assert_eq!(back, data);
    }
}
