//! The route walk: every route the server mounts, read from the Rocket instance itself, is
//! called as an outsider (no session, no token) and as member B (B's session with B's own CSRF
//! token, or B's Bearer token) on member A's objects and on the admin's routes. Each answer must
//! be exactly the status [`table`] gives. A mounted route without a row fails the walk, and so
//! does a row whose route is not mounted; so does an answer to B that names one of A's objects,
//! and anything of A's or the admin's that is different afterwards.

use std::collections::BTreeSet;

use rocket::http::{ContentType, Cookie, Header, Method, Status};
use rocket::local::blocking::Client;
use serde_json::Value;

use crate::common::*;
use crate::lab::{add_robot, api, db_of, lab_token, save_key, ECDSA256, ED25519};

/// Member A, whose objects B goes after.
const ANN: &str = "walka";
/// Member B.
const BOB: &str = "walkb";
/// A's key name and token note: neither may appear in anything B is shown.
const ANN_KEY_NAME: &str = "walka-laptop";
const ANN_TOKEN_NOTE: &str = "walka-nightly";

/// What B is to a route (for the reader; the statuses are what the walk checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// Anyone may call it: outsider and B get the same thing.
    Public,
    /// B's own things (B's list, B's account): B is served, but nothing of A's.
    Own,
    /// B reaching for one of A's objects (or a robot A's rules keep from B).
    OnA,
    /// An admin-only route.
    Admin,
}

/// What a request sends besides credentials; `{name}` placeholders are filled from [`Ids`].
#[derive(Clone, Copy, Debug)]
enum Body {
    Empty,
    Form(&'static [(&'static str, &'static str)]),
    Json(&'static str),
}

/// One expectation: `route` as mounted, called at `path`.
#[derive(Debug)]
struct Row {
    method: Method,
    route: &'static str,
    path: &'static str,
    body: Body,
    who: Who,
    outsider: u16,
    member: u16,
}

fn row(
    method: Method,
    route: &'static str,
    path: &'static str,
    who: Who,
    outsider: u16,
    member: u16,
) -> Row {
    Row {
        method,
        route,
        path,
        body: Body::Empty,
        who,
        outsider,
        member,
    }
}

impl Row {
    fn form(mut self, fields: &'static [(&'static str, &'static str)]) -> Row {
        self.body = Body::Form(fields);
        self
    }

    fn json(mut self, body: &'static str) -> Row {
        self.body = Body::Json(body);
        self
    }
}

/// Every route, and what the outsider and B must get. A page sends a visitor to `/login` (303)
/// and tells a member an admin page does not exist (404); the API answers a missing token 401,
/// and another member's object, or a robot its rules hide, 404. B's own session and tokens are
/// used up last (logout, purge).
#[rustfmt::skip] // one row a line reads as the table it is
fn table() -> Vec<Row> {
    use Method::{Delete, Get, Post};
    use Who::{Admin, OnA, Own, Public};
    vec![
        // Public: the same for everyone.
        row(Get, "/alive", "/alive", Public, 200, 200),
        row(Get, "/", "/", Public, 303, 303),
        row(Get, "/static/<file..>", "/static/app.css", Public, 200, 200),
        row(Get, "/.well-known/jwks.json", "/.well-known/jwks.json", Public, 200, 200),
        // GitHub-style public keys: A's lines are public by design.
        row(Get, "/<file>", "/walka.keys", Public, 200, 200),
        // The sign-in page sends a signed-in member on to their keys.
        row(Get, "/login?<next>", "/login", Public, 200, 303),
        // Without the sign-in form's own CSRF cookie a sign-in is refused, password or not.
        row(Post, "/login", "/login", Public, 403, 403).form(&[
            ("username", ANN),
            ("password", "not-the-password"),
            ("csrf_token", "guessed"),
        ]),
        // The robots' own endpoint takes a robot's credential, never a member's token.
        row(
            Get,
            "/api/deployment/<id>/authorized_keys?<fingerprint>&<user>",
            "/api/deployment/{robot}/authorized_keys",
            OnA,
            401,
            401,
        ),
        // Account.
        row(Get, "/account?<before>", "/account", Own, 303, 200),
        // Sessions: B cannot end A's; ending B's other sessions keeps the one B uses.
        row(Post, "/account/sessions/<n>/end", "/account/sessions/{ann_session}/end", OnA, 303, 404),
        row(Post, "/account/sessions/end-others", "/account/sessions/end-others", Own, 303, 303),
        row(Post, "/account/password", "/account/password", Own, 303, 422).form(&[
            ("current", "not-bobs-password"),
            ("new", "a-brand-new-password-1"),
            ("confirm", "a-brand-new-password-1"),
        ]),
        // SSH keys: B pasting A's key is told it is taken, not by whom.
        row(Get, "/sshkeys", "/sshkeys", Own, 303, 200),
        row(Post, "/sshkeys", "/sshkeys", OnA, 303, 422)
            .form(&[("key", "{ann_key_line}"), ("name", "bobs")]),
        row(Post, "/sshkeys/<id>/delete", "/sshkeys/{key}/delete", OnA, 303, 404),
        // The confirmation pages without JavaScript.
        row(Get, "/sshkeys/<id>/delete", "/sshkeys/{key}/delete", OnA, 303, 404),
        row(Get, "/api/sshkeys", "/api/sshkeys", Own, 401, 200),
        row(Get, "/api/sshkeys/<id>", "/api/sshkeys/{key}", OnA, 401, 404),
        row(Post, "/api/sshkeys", "/api/sshkeys", OnA, 401, 422)
            .json(r#"{"name": "bobs", "key": "{ann_key_line}"}"#),
        row(Delete, "/api/sshkeys/<id>", "/api/sshkeys/{key}", OnA, 401, 404),
        // Tokens.
        row(Get, "/tokens?<page>", "/tokens", Own, 303, 200),
        row(Get, "/tokens/<id>", "/tokens/{token}", OnA, 303, 404),
        row(Get, "/tokens/<id>/jwt.txt", "/tokens/{token}/jwt.txt", OnA, 303, 404),
        row(Post, "/tokens", "/tokens", Own, 303, 303)
            .form(&[("duration", "3600"), ("note", "bobs"), ("scope", "rw")]),
        row(Post, "/tokens/<id>/revoke", "/tokens/{token}/revoke", OnA, 303, 404),
        row(Get, "/tokens/<id>/revoke", "/tokens/{token}/revoke", OnA, 303, 404),
        row(Get, "/api/tokens", "/api/tokens", Own, 401, 200),
        row(Post, "/api/revoke/<sha256>", "/api/revoke/{token_sha256}", OnA, 401, 404),
        // Instances, reservations and robots, on the pages.
        row(Get, "/instances?<ended>&<older>", "/instances", Own, 303, 200),
        row(Post, "/instances", "/instances", OnA, 303, 422).form(&[
            ("robot", "{robot}"),
            ("duration", "3600"),
            ("pasted", "{other_key_line}"),
        ]),
        row(Post, "/instances/<id>/change", "/instances/{instance}/change", OnA, 303, 404)
            .form(&[("change", "extend"), ("by", "3600")]),
        row(Post, "/instances/<id>/terminate", "/instances/{instance}/terminate", OnA, 303, 404),
        row(Get, "/instances/<id>/terminate", "/instances/{instance}/terminate", OnA, 303, 404),
        row(Get, "/instances/<id>/key.pem", "/instances/{instance}/key.pem", OnA, 303, 404),
        row(Post, "/instances/<id>/key.pem", "/instances/{instance}/key.pem", OnA, 303, 404),
        row(Post, "/reservations/<id>/cancel", "/reservations/{reservation}/cancel", OnA, 303, 404),
        // The workspace API.
        row(Get, "/api/workspaces", "/api/workspaces", Own, 401, 200),
        row(
            Get,
            "/api/deployments?<q>&<maxlen>&<types>&<page>&<max_per_page>",
            "/api/deployments",
            Own,
            401,
            200,
        ),
        row(Get, "/api/deployment/<id>", "/api/deployment/{robot}", OnA, 401, 404),
        row(Get, "/api/deployment/<id>", "/api/deployment/{open_robot}", Own, 401, 200),
        row(
            Get,
            "/api/instances?<include_terminated>&<page>&<max_per_page>",
            "/api/instances?include_terminated=1",
            Own,
            401,
            200,
        ),
        row(Get, "/api/instance/<id>", "/api/instance/{instance}", OnA, 401, 404),
        row(Get, "/api/instance/<id>/sshkey", "/api/instance/{instance}/sshkey", OnA, 401, 404),
        row(Post, "/api/new/<target>", "/api/new/{robot}", OnA, 401, 404)
            .json(r#"{"sshkey": "{other_key_line}"}"#),
        row(Post, "/api/new/<target>", "/api/new/{robot}", OnA, 401, 404)
            .json(r#"{"sshkey": "{other_key_line}", "reserve": true}"#),
        row(Post, "/api/terminate/<id>", "/api/terminate/{instance}", OnA, 401, 404),
        row(Get, "/api/reservations", "/api/reservations", Own, 401, 200),
        row(Delete, "/api/reservation/<id>", "/api/reservation/{reservation}", OnA, 401, 404),
        row(Get, "/api/deployment/<id>/timeline", "/api/deployment/{robot}/timeline", OnA, 401, 404),
        // Access rules: B reads those of robots B may book; only admins change them, and a
        // robot hidden from B stays hidden (404) even to a change.
        row(Get, "/api/rules?<to_user>", "/api/rules", Own, 401, 200),
        row(Get, "/api/deployment/<id>/rules?<to_user>", "/api/deployment/{robot}/rules", OnA, 401, 404),
        row(Get, "/api/deployment/<id>/rules?<to_user>", "/api/deployment/{open_robot}/rules", Own, 401, 200),
        row(Post, "/api/deployment/<id>/rule", "/api/deployment/{robot}/rule", OnA, 401, 404)
            .json(r#"{"cap": "CAP_INSTANTIATE", "user": "walkb"}"#),
        row(Post, "/api/deployment/<id>/rule", "/api/deployment/{open_robot}/rule", Admin, 401, 403)
            .json(r#"{"cap": "CAP_INSTANTIATE", "user": "walkb"}"#),
        row(
            Delete,
            "/api/deployment/<id>/rule/<rule_id>",
            "/api/deployment/{robot}/rule/{rule}",
            OnA,
            401,
            404,
        ),
        row(
            Delete,
            "/api/deployment/<id>/rule/<rule_id>",
            "/api/deployment/{open_robot}/rule/{open_rule}",
            Admin,
            401,
            403,
        ),
        // Admin pages: to a member they do not exist, whatever the form says.
        row(Get, "/admin", "/admin", Admin, 303, 404),
        row(Get, "/admin/users", "/admin/users", Admin, 303, 404),
        row(Post, "/admin/users", "/admin/users", Admin, 303, 404)
            .form(&[("username", "walkc"), ("is_admin", "true")]),
        row(Get, "/admin/users/<id>", "/admin/users/{ann_id}", Admin, 303, 404),
        row(Post, "/admin/users/<id>/<switch>", "/admin/users/{ann_id}/disable", Admin, 303, 404),
        row(
            Post,
            "/admin/users/<id>/reset-password",
            "/admin/users/{ann_id}/reset-password",
            Admin,
            303,
            404,
        ),
        row(Post, "/admin/users/<id>/delete", "/admin/users/{ann_id}/delete", Admin, 303, 404),
        // B promoting B.
        row(Post, "/admin/users/<id>/promote", "/admin/users/{bob_id}/promote", Admin, 303, 404),
        row(Post, "/admin/users/<id>/demote", "/admin/users/{admin_id}/demote", Admin, 303, 404),
        row(Get, "/admin/bookings?<page>", "/admin/bookings", Admin, 303, 404),
        row(Post, "/admin/bookings/<id>/end", "/admin/bookings/{instance}/end", Admin, 303, 404)
            .form(&[("reason", "walked")]),
        row(Get, "/admin/deployments", "/admin/deployments", Admin, 303, 404),
        row(Post, "/admin/deployments", "/admin/deployments", Admin, 303, 404).form(&[
            ("kind", "ur5e"),
            ("host", "walk.lab"),
            ("port", "22"),
            ("user", "root"),
        ]),
        row(Get, "/admin/deployments/<id>", "/admin/deployments/{robot}", Admin, 303, 404),
        row(
            Post,
            "/admin/deployments/<id>/<switch>",
            "/admin/deployments/{robot}/disable",
            Admin,
            303,
            404,
        ),
        row(
            Post,
            "/admin/deployments/<id>/rotate-credential",
            "/admin/deployments/{robot}/rotate-credential",
            Admin,
            303,
            404,
        ),
        row(Post, "/admin/deployments/<id>/edit", "/admin/deployments/{robot}/edit", Admin, 303, 404)
            .form(&[("kind", "ur5e"), ("host", "elsewhere.lab"), ("port", "22"), ("user", "root")]),
        row(Post, "/admin/deployments/<id>/delete", "/admin/deployments/{robot}/delete", Admin, 303, 404),
        row(Post, "/admin/deployments/<id>/rules", "/admin/deployments/{robot}/rules", Admin, 303, 404)
            .form(&[("who", "user"), ("name", "walkb")]),
        row(
            Post,
            "/admin/deployments/<id>/rules/<rule_id>/delete",
            "/admin/deployments/{robot}/rules/{rule}/delete",
            Admin,
            303,
            404,
        ),
        row(Get, "/admin/groups", "/admin/groups", Admin, 303, 404),
        row(Post, "/admin/groups", "/admin/groups", Admin, 303, 404).form(&[("name", "bobs-group")]),
        // B joining the group the rule names.
        row(Post, "/admin/groups/<id>/members", "/admin/groups/{group}/members", Admin, 303, 404)
            .form(&[("username", "walkb")]),
        row(
            Post,
            "/admin/groups/<id>/members/<user_id>/remove",
            "/admin/groups/{group}/members/{ann_id}/remove",
            Admin,
            303,
            404,
        ),
        row(Post, "/admin/groups/<id>/delete", "/admin/groups/{group}/delete", Admin, 303, 404),
        row(Get, "/admin/limits", "/admin/limits", Admin, 303, 404),
        row(Post, "/admin/limits", "/admin/limits", Admin, 303, 404).form(&[("max", "3600")]),
        row(Post, "/admin/limits/bookings", "/admin/limits/bookings", Admin, 303, 404)
            .form(&[("max_seconds", "60")]),
        // Last: these end B's own session and tokens.
        row(Post, "/api/purge", "/api/purge", Own, 401, 200),
        row(Post, "/logout", "/logout", Own, 303, 303),
    ]
}

/// The real ids behind the placeholders.
struct Ids {
    pairs: Vec<(&'static str, String)>,
}

impl Ids {
    fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no id named {name}"))
    }

    fn fill(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, value) in &self.pairs {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

/// The lab of the walk: A with a key, a token, an instance with a generated key pair and a
/// reservation on a robot whose rules name only A and A's group; an open robot with a rule of
/// its own; B signed in with a CSRF token and a Bearer token.
struct Walk {
    client: Client,
    _dir: tempfile::TempDir,
    ids: Ids,
    bob_session: String,
    bob_csrf: String,
    bob_token: String,
    ann_token: String,
}

fn setup() -> Walk {
    let lab = Lab::new();
    let data = lab.data();
    let ann_password = lab.add_user(ANN, false);
    let bob_password = lab.add_user(BOB, false);
    let robot = add_robot(&data, "ur5e", "walk1.lab", 22);
    let open_robot = add_robot(&data, "misty", "walk2.lab", 22);
    let (ok, out, err) = cli(&data, &["group", "add", "walkers"], None);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(&data, &["group", "member", "add", "walkers", ANN], None);
    assert!(ok, "{out}{err}");

    // Rules, set by the admin through the API: the robot is A's (by name and by group); the
    // open robot names B and the admin, so B may book it and read its rules.
    let admin = lab_token(&lab, "admin", "rw");
    let rule = |robot: &str, body: &str| -> String {
        let (status, made) = api(
            &lab,
            Method::Post,
            &format!("/api/deployment/{robot}/rule"),
            Some(&admin),
            Some(body),
        );
        assert_eq!(status, Status::Ok, "{made}");
        made["rule_id"].as_i64().expect("rule id").to_string()
    };
    let user_rule = rule(&robot, r#"{"cap": "CAP_INSTANTIATE", "user": "walka"}"#);
    rule(&robot, r#"{"cap": "CAP_INSTANTIATE", "group": "walkers"}"#);
    let open_rule = rule(
        &open_robot,
        r#"{"cap": "CAP_INSTANTIATE", "user": "admin"}"#,
    );
    rule(
        &open_robot,
        r#"{"cap": "CAP_INSTANTIATE", "user": "walkb"}"#,
    );

    let key = save_key(&data, ANN, ANN_KEY_NAME, ED25519);
    let (token, ann_token) = note_token(&lab, ANN, ANN_TOKEN_NOTE);
    // An instance with a key pair made for it (its private key not yet taken), then a place
    // in line behind it.
    let (status, made) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{robot}"),
        Some(&ann_token),
        Some("{}"),
    );
    assert_eq!(status, Status::Ok, "{made}");
    let instance = made["id"].as_str().expect("instance id").to_owned();
    let body = serde_json::json!({ "sshkey": ECDSA256.trim(), "reserve": true }).to_string();
    let (status, made) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{robot}"),
        Some(&ann_token),
        Some(&body),
    );
    assert_eq!(status, Status::Ok, "{made}");
    assert_eq!(made["success"], false, "a place in line: {made}");
    let reservation = made["id"].as_str().expect("reservation id").to_owned();

    let bob_token = lab_token(&lab, BOB, "rw");
    let db = db_of(&data);
    let user_id = |name: &'static str| {
        db.run_blocking(move |c| labgate::auth::users::require(c, name))
            .expect("user")
            .id
            .to_string()
    };
    let (ann_id, bob_id, admin_id) = (user_id(ANN), user_id(BOB), user_id("admin"));
    let group = db
        .run_blocking(|c| {
            Ok(
                c.query_row("SELECT id FROM groups WHERE name = 'walkers'", [], |r| {
                    r.get::<_, i64>(0)
                })?,
            )
        })
        .expect("group id")
        .to_string();
    let mut ids = Ids {
        pairs: vec![
            ("key", key.to_string()),
            ("token", token),
            ("token_sha256", labgate::auth::sha256_hex(&ann_token)),
            ("instance", instance),
            ("reservation", reservation),
            ("robot", robot),
            ("open_robot", open_robot),
            ("rule", user_rule),
            ("open_rule", open_rule),
            ("group", group),
            ("ann_id", ann_id),
            ("bob_id", bob_id),
            ("admin_id", admin_id),
            ("ann_key_line", ED25519.trim().to_owned()),
            ("other_key_line", ECDSA256.trim().to_owned()),
        ],
    };

    let (client, dir) = lab.into_untracked();
    let bob_session = session_for(&client, BOB, &bob_password);
    // A signed in elsewhere: a session B must not be able to end.
    session_for(&client, ANN, &ann_password);
    let ann_session = db
        .run_blocking(|c| {
            Ok(c.query_row(
                "SELECT s.rowid FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE u.username = ?1",
                [ANN],
                |r| r.get::<_, i64>(0),
            )?)
        })
        .expect("A's session");
    ids.pairs.push(("ann_session", ann_session.to_string()));
    let (status, account) = get_with(&client, "/account", &bob_session);
    assert_eq!(status, Status::Ok);
    let bob_csrf = csrf_from(&account).expect("B's CSRF token");
    Walk {
        client,
        _dir: dir,
        ids,
        bob_session,
        bob_csrf,
        bob_token,
        ann_token,
    }
}

/// Issues a token with a note for `username`; returns its id and text.
fn note_token(lab: &Lab, username: &str, note: &str) -> (String, String) {
    let data = lab.data();
    let pem = std::fs::read_to_string(data.join("signing-key.pem")).expect("signing key");
    let key = labgate::tokens::jwt::SigningKey::from_pkcs8_pem(&pem).expect("key parses");
    let config = labgate::Config::new(&data);
    let (username, note) = (username.to_owned(), note.to_owned());
    let (info, text) = db_of(&data)
        .write_blocking(move |tx| {
            let account = labgate::auth::users::require(tx, &username)?;
            let user = labgate::auth::User {
                id: account.id,
                username: account.username,
                is_admin: account.is_admin,
            };
            labgate::tokens::issue(tx, &key, &config, &user, 86400, "rw", &note, None)
        })
        .expect("issue token");
    (info.id, text)
}

/// How a call is made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum As {
    Outsider,
    /// B: the session (and CSRF token) on pages, the Bearer token on the API.
    Member,
    /// B's session cookie sent to the API, which must never take it.
    MemberCookieOnApi,
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

impl Walk {
    /// Calls `row` as `who`; returns the status and the body.
    fn call(&self, row: &Row, who: As) -> (u16, String, String) {
        let path = self.ids.fill(row.path);
        let mut req = self.client.req(row.method, path.clone());
        let api = is_api(&path);
        if who == As::Member && api {
            req = req.header(Header::new(
                "Authorization",
                format!("Bearer {}", self.bob_token),
            ));
        }
        if who == As::MemberCookieOnApi || (who == As::Member && !api) {
            req = req.cookie(Cookie::new(
                labgate::auth::SESSION_COOKIE,
                self.bob_session.clone(),
            ));
        }
        let sent = match row.body {
            Body::Empty if row.method == Method::Post && !api => {
                let mut fields = Vec::new();
                if who == As::Member {
                    fields.push(("csrf_token", self.bob_csrf.as_str()));
                }
                let body = form(&fields);
                req = req.header(ContentType::Form).body(body.clone());
                body
            }
            Body::Empty => String::new(),
            Body::Form(fields) => {
                let filled: Vec<(String, String)> = fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), self.ids.fill(v)))
                    .collect();
                let mut pairs: Vec<(&str, &str)> = filled
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                if who == As::Member && row.route != "/login" {
                    pairs.push(("csrf_token", self.bob_csrf.as_str()));
                }
                let body = form(&pairs);
                req = req.header(ContentType::Form).body(body.clone());
                body
            }
            Body::Json(text) => {
                let body = self.ids.fill(text);
                req = req.body(body.clone());
                body
            }
        };
        let resp = req.dispatch();
        let status = resp.status().code;
        (status, resp.into_string().unwrap_or_default(), sent)
    }

    /// Everything of A's and the admin's, as text: what B must not be able to change.
    fn snapshot(&self) -> Vec<String> {
        let bob = self.ids.get("bob_id").to_owned();
        let path = self._dir.path().join("data");
        db_of(&path)
            .run_blocking(move |c| {
                let mut all = Vec::new();
                for sql in [
                    "SELECT id, username, password_hash, is_admin, disabled, created, deleted FROM users ORDER BY id",
                    "SELECT * FROM ssh_keys ORDER BY id",
                    "SELECT * FROM tokens WHERE user_id <> ?1 ORDER BY id",
                    "SELECT * FROM sessions WHERE user_id <> ?1 ORDER BY id_hash",
                    "SELECT * FROM events WHERE user_id <> ?1 ORDER BY id",
                    "SELECT * FROM deployments ORDER BY id",
                    "SELECT * FROM instances ORDER BY id",
                    "SELECT * FROM instance_keys ORDER BY instance_id, fingerprint",
                    "SELECT * FROM groups ORDER BY id",
                    "SELECT * FROM group_members ORDER BY group_id, user_id",
                    "SELECT * FROM rules ORDER BY id",
                    "SELECT * FROM reservations ORDER BY id",
                    "SELECT * FROM reservation_keys ORDER BY reservation_id, fingerprint",
                    "SELECT * FROM settings ORDER BY key",
                ] {
                    let mut stmt = c.prepare(sql)?;
                    let columns = stmt.column_count();
                    let takes_bob = sql.contains("?1");
                    let mut rows = if takes_bob {
                        stmt.query([&bob])?
                    } else {
                        stmt.query([])?
                    };
                    while let Some(r) = rows.next()? {
                        let mut line = format!("{sql}:");
                        for i in 0..columns {
                            line.push_str(&format!(" {:?}", r.get_ref(i)?));
                        }
                        all.push(line);
                    }
                }
                Ok(all)
            })
            .expect("snapshot")
    }

    /// What an answer to B must never contain (unless B sent it): A's names and ids.
    fn secrets(&self) -> Vec<String> {
        let mut s = vec![
            ANN.to_owned(),
            ANN_KEY_NAME.to_owned(),
            ANN_TOKEN_NOTE.to_owned(),
        ];
        for id in ["token", "instance", "reservation", "robot"] {
            s.push(self.ids.get(id).to_owned());
        }
        s
    }
}

/// The start of what a page or JSON answer says, on one line (a page from its `<main>`).
fn excerpt(body: &str) -> String {
    let from = body.find("<main").map_or(body, |at| &body[at..]);
    let words: Vec<&str> = from.split_whitespace().collect();
    words.join(" ").chars().take(200).collect()
}

fn route_key(method: Method, uri: &str) -> String {
    format!("{method} {uri}")
}

#[test]
fn every_route_refuses_outsiders_other_members_and_non_admins() {
    let walk = setup();
    let mounted: BTreeSet<String> = walk
        .client
        .rocket()
        .routes()
        .map(|r| route_key(r.method, &r.uri.to_string()))
        .collect();
    let rows = table();
    let listed: BTreeSet<String> = rows.iter().map(|r| route_key(r.method, r.route)).collect();
    let missing: Vec<&String> = mounted.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "mounted routes without a row in the walk's table (add what an outsider, another \
         member and a non-admin must get): {missing:#?}"
    );
    let unmounted: Vec<&String> = listed.difference(&mounted).collect();
    assert!(
        unmounted.is_empty(),
        "rows in the walk's table for routes that are not mounted: {unmounted:#?}"
    );

    let before = walk.snapshot();
    let secrets = walk.secrets();
    let mut wrong = Vec::new();
    for row in &rows {
        let mut callers = vec![(As::Outsider, row.outsider), (As::Member, row.member)];
        if is_api(row.path) && row.who != Who::Public {
            callers.push((As::MemberCookieOnApi, row.outsider));
        }
        for (who, expected) in callers {
            let (status, body, sent) = walk.call(row, who);
            let path = walk.ids.fill(row.path);
            if status != expected {
                wrong.push(format!(
                    "{} {path} as {who:?} ({:?}): {status}, expected {expected}: {}",
                    row.method,
                    row.who,
                    excerpt(&body)
                ));
            }
            if row.who != Who::Public {
                for secret in &secrets {
                    if body.contains(secret.as_str())
                        && !path.contains(secret.as_str())
                        && !sent.contains(secret.as_str())
                    {
                        wrong.push(format!(
                            "{} {path} as {who:?} names A's {secret:?}: {}",
                            row.method,
                            excerpt(&body)
                        ));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "the walk found:\n{}", wrong.join("\n"));

    let after = walk.snapshot();
    let changed: Vec<String> = before
        .iter()
        .filter(|l| !after.contains(l))
        .map(|l| format!("- {l}"))
        .chain(
            after
                .iter()
                .filter(|l| !before.contains(l))
                .map(|l| format!("+ {l}")),
        )
        .collect();
    assert!(
        changed.is_empty(),
        "the walk changed what only A or the admin may change:\n{}",
        changed.join("\n")
    );

    // A's key, token and booking still work for A.
    let resp = walk
        .client
        .get("/api/sshkeys")
        .header(Header::new(
            "Authorization",
            format!("Bearer {}", walk.ann_token),
        ))
        .dispatch();
    assert_eq!(resp.status(), Status::Ok);
    let keys: Value = serde_json::from_str(&resp.into_string().unwrap_or_default()).expect("json");
    assert_eq!(keys[0]["name"], ANN_KEY_NAME, "{keys}");
    let resp = walk
        .client
        .get(format!("/api/instance/{}", walk.ids.get("instance")))
        .header(Header::new(
            "Authorization",
            format!("Bearer {}", walk.ann_token),
        ))
        .dispatch();
    assert_eq!(resp.status(), Status::Ok);
}
