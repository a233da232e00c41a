//! The `/tokens` page and its fragments: making, showing, downloading and revoking.

use rocket::http::Status;

use super::*;

#[test]
fn empty_page_and_its_fragment() {
    let lab = lab_with_alice();
    let resp = lab.client.get("/tokens").dispatch();
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.headers().get_one("Cache-Control"), Some("no-store"));
    let page = resp.into_string().unwrap();
    assert!(page.contains("<html"));
    assert!(page.contains("You have no active API tokens."));
    assert!(page.contains("hx-history=\"false\""));
    assert!(page.contains("make API token"));
    assert!(page.contains("<option value=\"86400\" selected>24 hours</option>"));
    for (seconds, label) in labgate::tokens::DURATIONS {
        assert!(
            page.contains(&format!("<option value=\"{seconds}\"")),
            "{label} offered"
        );
    }
    assert!(page.contains("value=\"rw\" checked"));
    assert!(
        page.contains("<div id=\"token-panel\" hidden><input type=\"hidden\" id=\"token-panel-shown\" name=\"panel\" value=\"\"></div>"),
        "panel closed"
    );

    let resp = lab.get_htmx("/tokens");
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.headers().get_one("Cache-Control"), Some("no-store"));
    let fragment = resp.into_string().unwrap();
    assert!(!fragment.contains("<html"));
    assert!(fragment.trim_start().starts_with("<div id=\"tokens-page\""));
    assert!(fragment.contains("hx-history=\"false\""));
}

#[test]
fn each_duration_makes_a_token_of_that_lifetime() {
    let lab = lab_with_alice();
    let kid = lab
        .client
        .get("/.well-known/jwks.json")
        .dispatch()
        .into_json::<Value>()
        .unwrap()["keys"][0]["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    for (seconds, label) in labgate::tokens::DURATIONS {
        let (id, text) = make(&lab, &[("duration", &seconds.to_string())]);
        let header = segment(&text, 0);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], kid.as_str());
        let claims = segment(&text, 1);
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap(),
            claims["exp"].as_i64().unwrap(),
        );
        assert_eq!(exp - iat, seconds, "{label}");
        assert_eq!(claims["nbf"], claims["iat"]);
        assert_eq!(claims["jti"], id.as_str());
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["sc"], "rw");
        assert_eq!(claims["iss"], "http://127.0.0.1:8000");
        assert_eq!(claims["aud"], "http://127.0.0.1:8000");
        assert_eq!(api_status(&lab, &text), Status::Ok, "{label} token works");
    }
    // No duration at all: 24 hours.
    let (_, text) = make(&lab, &[("note", "default")]);
    let claims = segment(&text, 1);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        86400
    );
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert_eq!(page.matches("data-select-row").count(), 7);
    assert!(
        page.contains("(in 24 h)"),
        "a fresh 24 h token reads \"in 24 h\""
    );
    assert!(account_page(&lab).contains("API token made"));
}

#[test]
fn refused_input_is_422_with_the_values_kept() {
    let lab = lab_with_alice();
    let long_note = "n".repeat(101);
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("scope", "admin"), ("note", "kept note")],
            "scope must be",
        ),
        (&[("note", &long_note)], "at most 100 characters"),
        (
            &[("duration", "soon"), ("note", "kept note")],
            "choose a duration",
        ),
        (
            &[("duration", "10"), ("note", "kept note")],
            "at least 60 seconds",
        ),
        (&[("duration", "-86400")], "at least 60 seconds"),
    ];
    for (fields, message) in cases {
        let resp = lab.post_form("/tokens", fields);
        assert_eq!(resp.status(), Status::UnprocessableEntity, "{fields:?}");
        let page = resp.into_string().unwrap();
        assert!(page.contains("<html"), "a whole page without htmx");
        assert!(page.contains(message), "{message}");
        if let Some((_, note)) = fields.iter().find(|(k, _)| *k == "note") {
            assert!(page.contains(&format!("value=\"{note}\"")), "note kept");
        }
        let resp = lab.post_htmx("/tokens", fields);
        assert_eq!(resp.status(), Status::UnprocessableEntity, "{fields:?}");
        let fragment = resp.into_string().unwrap();
        assert!(fragment.trim_start().starts_with("<form id=\"token-form\""));
        assert!(fragment.contains(message));
    }
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(
        page.contains("You have no active API tokens."),
        "nothing made"
    );
    let resp = lab.client.post("/tokens").dispatch();
    assert_eq!(resp.status(), Status::Forbidden, "no CSRF token");
}

#[test]
fn panel_shows_the_text_jwt_txt_has_byte_for_byte() {
    let lab = lab_with_alice();
    let (id, text) = make(&lab, &[("note", "robot arm <script>"), ("scope", "ro")]);
    assert!(!text.ends_with('\n') && !text.contains(char::is_whitespace));
    assert_eq!(text.split('.').count(), 3);
    assert_eq!(claims_of(&text).sc, "ro");

    // After the 303: the whole page with the panel open and the flash.
    let resp = lab.client.get(format!("/tokens/{id}")).dispatch();
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.headers().get_one("Cache-Control"), Some("no-store"));
    let page = resp.into_string().unwrap();
    assert!(page.contains("<html"));
    assert!(page.contains("API token made."), "flash");
    assert_eq!(panel_text(&page).as_deref(), Some(text.as_str()));
    assert!(page.contains("<h2 id=\"token-panel-title\">token</h2>"));
    assert!(page.contains(&format!("href=\"/tokens/{id}/jwt.txt\"")));
    assert!(page.contains("data-copy=\"#token-text\""));
    assert!(page.contains("robot arm &lt;script&gt;"), "note escaped");
    assert!(!page.contains("robot arm <script>"));
    assert!(page.contains("class=\"selectable selected\""), "row marked");

    // htmx: the panel alone.
    let resp = lab.get_htmx(&format!("/tokens/{id}"));
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.headers().get_one("Cache-Control"), Some("no-store"));
    let fragment = resp.into_string().unwrap();
    assert!(fragment
        .trim_start()
        .starts_with("<section id=\"token-panel\""));
    assert!(!fragment.contains("<html"));
    assert_eq!(panel_text(&fragment).as_deref(), Some(text.as_str()));

    // jwt.txt is the same for htmx (a download is never a fragment), and stable.
    let resp = lab.get_htmx(&format!("/tokens/{id}/jwt.txt"));
    assert_eq!(resp.into_bytes().unwrap(), text.as_bytes());
    assert_eq!(jwt_txt(&lab, &id), text);
}

#[test]
fn making_with_htmx_adds_the_row_and_opens_the_panel() {
    let lab = lab_with_alice();
    let resp = lab.post_htmx("/tokens", &[("duration", "3600"), ("note", "ci")]);
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.headers().get_one("Cache-Control"), Some("no-store"));
    let trigger = resp.headers().get_one("HX-Trigger").unwrap().to_owned();
    assert!(trigger.contains("API token made."));
    let body = resp.into_string().unwrap();
    assert!(body.trim_start().starts_with("<form id=\"token-form\""));
    assert!(body.contains("<div id=\"tokens-list\" hx-swap-oob=\"true\">"));
    assert!(body.contains("<section id=\"token-panel\" class=\"card token-panel\""));
    assert!(
        body.contains("hx-swap-oob=\"true\">\n  <input type=\"hidden\" id=\"token-panel-shown\"")
    );
    let text = panel_text(&body).expect("panel with the token");
    let id = claims_of(&text).jti;
    assert!(body.contains(&format!("<tr id=\"token-{id}\"")));
    assert!(!body.contains("You have no active API tokens."));
    assert_eq!(jwt_txt(&lab, &id), text);
    assert_eq!(api_status(&lab, &text), Status::Ok);
    // The fresh form is back at its defaults.
    assert!(body.contains("<option value=\"86400\" selected>"));
    assert!(body.contains("name=\"note\" value=\"\""));

    // With a table on the page, only the new row goes in (at its top), not the list.
    let resp = lab.post_htmx("/tokens", &[("duration", "3600"), ("note", "deploy")]);
    assert_eq!(resp.status(), Status::Ok);
    let body = resp.into_string().unwrap();
    assert!(body.trim_start().starts_with("<form id=\"token-form\""));
    assert!(!body.contains("id=\"tokens-list\""), "no list: {body}");
    assert!(!body.contains(&format!("token-{id}")), "nor the older row");
    let second = claims_of(&panel_text(&body).expect("panel")).jti;
    assert_eq!(row_ids(&body), std::slice::from_ref(&second));
    assert!(body.contains(&format!(
        "<template><tbody hx-swap-oob=\"afterbegin:#tokens-list tbody\"><tr id=\"token-{second}\" class=\"selectable selected\""
    )));
    assert!(body.contains(">deploy<"));
    assert!(!body.contains("hx-swap-oob=\"delete\"") && !body.contains("tokens-pager"));
    assert!(body.contains("<section id=\"token-panel\" class=\"card token-panel\""));
    // The page it lands on has both, newest first.
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert_eq!(row_ids(&page), [second, id]);
}

/// The ids of the token rows in a page or fragment, in order (not rows that only leave).
fn row_ids(html: &str) -> Vec<String> {
    html.split("<tr id=\"token-")
        .skip(1)
        .filter(|r| r.contains("data-select-row"))
        .filter_map(|r| r.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn revoking_on_the_page_stops_the_token_at_once_and_for_good() {
    let lab = lab_with_alice();
    let (id, text) = make(&lab, &[("note", "to revoke")]);
    let (_, kept) = make(&lab, &[("note", "to keep")]);
    assert_eq!(api_status(&lab, &text), Status::Ok);
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(page.contains(&format!("hx-post=\"/tokens/{id}/revoke\"")));
    assert!(page.contains("hx-confirm=\"Revoke the token to revoke?"));
    assert!(page.contains("hx-target=\"closest tr\""));

    let resp = lab.post_form(&format!("/tokens/{id}/revoke"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    assert_eq!(resp.headers().get_one("Location"), Some("/tokens"));
    drop(resp);
    assert_wrong_token(
        api_get(&lab, "/api/tokens", &format!("Bearer {text}")),
        "revoked token",
    );
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(page.contains("Revoked \u{201c}to revoke\u{201d}"), "flash");
    assert!(!page.contains(&format!("token-{id}")), "row gone");
    assert!(page.contains("to keep"));
    for uri in [format!("/tokens/{id}"), format!("/tokens/{id}/jwt.txt")] {
        assert_eq!(
            lab.client.get(uri.clone()).dispatch().status(),
            Status::NotFound,
            "{uri}"
        );
        assert_eq!(lab.get_htmx(&uri).status(), Status::NotFound, "{uri}");
    }
    let again = lab.post_form(&format!("/tokens/{id}/revoke"), &[]).status();
    assert_eq!(again, Status::NotFound);
    assert!(account_page(&lab).contains("API token revoked"));

    let lab = lab.restart();
    assert_eq!(
        api_status(&lab, &text),
        Status::Unauthorized,
        "after restart"
    );
    assert_eq!(
        api_status(&lab, &kept),
        Status::Ok,
        "the other one still works"
    );
}

#[test]
fn revoking_with_htmx_removes_the_row_and_closes_its_panel() {
    let lab = lab_with_alice();
    let (first, first_text) = make(&lab, &[("note", "first")]);
    let (second, _) = make(&lab, &[("note", "second")]);

    // The panel shows the first token: the answer closes it; the row swaps itself away.
    let resp = lab.post_htmx(&format!("/tokens/{first}/revoke"), &[("panel", &first)]);
    assert_eq!(resp.status(), Status::Ok);
    assert!(resp.headers().get_one("HX-Retarget").is_none());
    let trigger = resp.headers().get_one("HX-Trigger").unwrap();
    assert!(trigger.contains("it no longer works"));
    assert!(
        trigger.is_ascii(),
        "header bytes are read as Latin-1: {trigger}"
    );
    let body = resp.into_string().unwrap();
    assert_eq!(
        body.trim(),
        "<div id=\"token-panel\" hidden hx-swap-oob=\"true\"><input type=\"hidden\" id=\"token-panel-shown\" name=\"panel\" value=\"\"></div>"
    );
    assert_eq!(api_status(&lab, &first_text), Status::Unauthorized);

    // The last row, with the panel on another token: the list is replaced by the empty state.
    let resp = lab.post_htmx(
        &format!("/tokens/{second}/revoke"),
        &[("panel", "elsewhere")],
    );
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(resp.headers().get_one("HX-Retarget"), Some("#tokens-list"));
    assert_eq!(resp.headers().get_one("HX-Reswap"), Some("outerHTML"));
    let body = resp.into_string().unwrap();
    assert!(body.contains("You have no active API tokens."));
    assert!(!body.contains("token-panel"), "the panel is left alone");

    let resp = lab.post_htmx(&format!("/tokens/{second}/revoke"), &[]);
    assert_eq!(resp.status(), Status::NotFound);
    assert!(resp.headers().get_one("HX-Trigger").is_some(), "toast");
}

#[test]
fn another_users_token_is_not_found_on_every_route() {
    let lab = Lab::new();
    let alice = lab.add_user("alice", false);
    let bob = lab.add_user("bob", false);
    lab.login("alice", &alice);
    let (id, text) = make(&lab, &[("note", "alice's")]);
    lab.login("bob", &bob);
    for uri in [format!("/tokens/{id}"), format!("/tokens/{id}/jwt.txt")] {
        let resp = lab.client.get(uri.clone()).dispatch();
        assert_eq!(resp.status(), Status::NotFound, "{uri}");
        assert!(!resp.into_string().unwrap_or_default().contains(&text));
        assert_eq!(lab.get_htmx(&uri).status(), Status::NotFound, "{uri}");
    }
    let revoke = format!("/tokens/{id}/revoke");
    assert_eq!(lab.post_form(&revoke, &[]).status(), Status::NotFound);
    assert_eq!(lab.post_htmx(&revoke, &[]).status(), Status::NotFound);
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(!page.contains(&id) && !page.contains("alice's"));
    assert_eq!(api_status(&lab, &text), Status::Ok, "still works for alice");
}

#[test]
fn expired_tokens_leave_the_table_and_fail() {
    let lab = lab_with_alice();
    let (id, _) = make(&lab, &[("duration", "3600"), ("note", "old-token-note")]);
    // Move the token two hours into the past, and sign its claims as the server would.
    let now = labgate::db::now();
    db(&lab)
        .write_blocking(|tx| {
            tx.execute(
                "UPDATE tokens SET created = ?2, expires = ?3 WHERE id = ?1",
                rusqlite::params![id, now - 7200, now - 3600],
            )?;
            Ok(())
        })
        .unwrap();
    let expired = jwt_txt_of_row(&lab, &id, now - 7200, now - 3600);
    assert_wrong_token(
        api_get(&lab, "/api/tokens", &format!("Bearer {expired}")),
        "expired",
    );
    let page = lab.client.get("/tokens").dispatch().into_string().unwrap();
    assert!(!page.contains("old-token-note") && page.contains("You have no active API tokens."));
    assert_eq!(
        lab.client.get(format!("/tokens/{id}")).dispatch().status(),
        Status::NotFound
    );
    assert_eq!(
        lab.client
            .get(format!("/tokens/{id}/jwt.txt"))
            .dispatch()
            .status(),
        Status::NotFound
    );
}

/// A token for row `id` of alice with the given times, signed by the server's key.
fn jwt_txt_of_row(lab: &Lab, id: &str, iat: i64, exp: i64) -> String {
    server_key(lab).sign(&Claims {
        iss: "http://127.0.0.1:8000".into(),
        aud: "http://127.0.0.1:8000".into(),
        sub: "alice".into(),
        iat,
        nbf: iat,
        exp,
        jti: id.into(),
        sc: "rw".into(),
    })
}

#[test]
fn new_user_done_when() {
    // The acceptance path: a new member makes a 24 h token, opens it, downloads
    // jwt.txt, calls the API with it, revokes it, and the same call fails.
    let lab = lab_with_alice();
    let resp = lab.post_form("/tokens", &[("duration", "86400")]);
    let panel = resp.headers().get_one("Location").unwrap().to_owned();
    let page = lab
        .client
        .get(panel.clone())
        .dispatch()
        .into_string()
        .unwrap();
    let shown = panel_text(&page).unwrap();
    let id = panel.trim_start_matches("/tokens/");
    let file = jwt_txt(&lab, id);
    assert_eq!(shown, file);
    let resp = api_get(&lab, "/api/tokens", &format!("Bearer {file}"));
    assert_eq!(resp.status(), Status::Ok);
    let list: Value = resp.into_json().unwrap();
    assert_eq!(list[0]["id"], id);
    assert_eq!(
        lab.post_form(&format!("{panel}/revoke"), &[]).status(),
        Status::SeeOther
    );
    assert_wrong_token(
        api_get(&lab, "/api/tokens", &format!("Bearer {file}")),
        "after revoke",
    );
}

#[test]
fn the_table_and_the_make_answer_show_one_page_of_tokens() {
    let lab = lab_with_alice();
    for i in 0..50 {
        make(&lab, &[("note", &format!("script {i}"))]);
    }
    let full = lab.client.get("/tokens").dispatch().into_string().unwrap();
    let before = row_ids(&full);
    assert_eq!(before.len(), 50);
    assert!(full
        .contains("<nav id=\"tokens-pager\" class=\"pager\" aria-label=\"More tokens\" hidden>"));
    assert!(!full.contains("Older tokens"));

    // The 51st token: its row goes in, the oldest row of the page leaves, the pager shows.
    let made = lab.post_htmx("/tokens", &[("note", "one more")]);
    assert_eq!(made.status(), Status::Ok);
    let body = made.into_string().unwrap();
    let new = claims_of(&panel_text(&body).expect("panel")).jti;
    assert_eq!(
        row_ids(&body),
        std::slice::from_ref(&new),
        "one row, not the page"
    );
    let oldest = &before[49];
    assert!(body.contains(&format!(
        "<template><tr id=\"token-{oldest}\" hx-swap-oob=\"delete\"></tr></template>"
    )));
    assert!(body.contains(
        "<nav id=\"tokens-pager\" class=\"pager\" aria-label=\"More tokens\" hx-swap-oob=\"true\">"
    ));
    assert!(body.contains("href=\"/tokens?page=1\">Older tokens</a>"));
    assert!(!body.contains("Newer tokens"));

    // What the browser now shows is what the page says.
    let first = lab.client.get("/tokens").dispatch().into_string().unwrap();
    let mut expected = vec![new.clone()];
    expected.extend(before[..49].iter().cloned());
    assert_eq!(row_ids(&first), expected);
    assert!(first.contains("href=\"/tokens?page=1\">Older tokens</a>"));
    let second = lab
        .client
        .get("/tokens?page=1")
        .dispatch()
        .into_string()
        .unwrap();
    assert_eq!(row_ids(&second), std::slice::from_ref(oldest));
    assert!(second.contains("href=\"/tokens?page=0\">Newer tokens</a>"));

    // Made while the browser shows the second page: the first page replaces the list.
    let token = lab.csrf();
    let resp = lab
        .client
        .post("/tokens")
        .header(rocket::http::ContentType::Form)
        .header(Header::new("HX-Request", "true"))
        .header(Header::new("X-CSRF-Token", token))
        .header(Header::new(
            "HX-Current-URL",
            "http://127.0.0.1:8000/tokens?page=1",
        ))
        .body("note=from+page+two")
        .dispatch();
    assert_eq!(resp.status(), Status::Ok);
    let body = resp.into_string().unwrap();
    assert!(body.contains("<div id=\"tokens-list\" hx-swap-oob=\"true\">"));
    let rows = row_ids(&body);
    assert_eq!(rows.len(), 50, "the first page");
    assert_eq!(rows[1], new);
    assert!(!body.contains("hx-swap-oob=\"delete\""));

    for bad in ["-1", "x", "99999999999"] {
        let resp = lab.client.get(format!("/tokens?page={bad}")).dispatch();
        assert_eq!(resp.status(), Status::BadRequest, "{bad}");
    }
}
