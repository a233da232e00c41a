//! One rule for every line of free text that one person types and others read later (key
//! names, token notes, a robot's description and region): no control characters and no
//! invisible marks that reorder text, refused alike on the page, as an htmx fragment and on the
//! command line, with nothing stored.

use rocket::http::Status;

use crate::common::*;

/// Right-to-left override, isolates, marks, the Arabic letter mark and a line separator.
const HIDDEN: [char; 6] = [
    '\u{202e}', '\u{2066}', '\u{2069}', '\u{200f}', '\u{061c}', '\u{2028}',
];

fn count(lab: &Lab, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(lab.data().join("labgate.db")).expect("db");
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

#[test]
fn token_notes_refuse_invisible_marks_as_key_names_do() {
    let lab = Lab::new();
    let password = lab.add_user("alice", false);
    lab.login("alice", &password);
    for mark in HIDDEN {
        let note = format!("ci{mark}gol.exe");
        let fields = [("duration", "3600"), ("note", note.as_str())];
        let resp = lab.post_form("/tokens", &fields);
        assert_eq!(resp.status(), Status::UnprocessableEntity, "{mark:?}");
        let page = resp.into_string().unwrap_or_default();
        assert!(page.contains("text-direction marks"), "{mark:?}");
        let resp = lab.post_htmx("/tokens", &fields);
        assert_eq!(resp.status(), Status::UnprocessableEntity, "{mark:?}");
        let fragment = resp.into_string().unwrap_or_default();
        assert!(fragment.contains("text-direction marks") && !fragment.contains("<html"));
        // And on the command line.
        let (ok, _, err) = cli(
            &lab.data(),
            &["token", "issue", "alice", "--note", &note],
            None,
        );
        assert!(
            !ok && err.contains("text-direction marks"),
            "{mark:?}: {err}"
        );
    }
    assert_eq!(count(&lab, "tokens"), 0);
    // Right-to-left scripts themselves are welcome.
    let resp = lab.post_form("/tokens", &[("duration", "3600"), ("note", "מעבדה laptop")]);
    assert_eq!(resp.status(), Status::SeeOther);
    assert_eq!(count(&lab, "tokens"), 1);
}

#[test]
fn robot_descriptions_and_regions_refuse_invisible_marks() {
    let lab = Lab::new();
    lab.login_admin();
    for mark in HIDDEN {
        for field in ["description", "region"] {
            let text = format!("arm{mark}4 moor");
            let fields = [
                ("type", "ur5e"),
                ("host", "arm.lab"),
                (field, text.as_str()),
            ];
            let resp = lab.post_form("/admin/deployments", &fields);
            assert_eq!(
                resp.status(),
                Status::UnprocessableEntity,
                "{field} {mark:?}"
            );
            let page = resp.into_string().unwrap_or_default();
            assert!(page.contains("text-direction marks"), "{field} {mark:?}");
            let resp = lab.post_htmx("/admin/deployments", &fields);
            assert_eq!(
                resp.status(),
                Status::UnprocessableEntity,
                "{field} {mark:?}"
            );
            let fragment = resp.into_string().unwrap_or_default();
            assert!(fragment.contains("text-direction marks") && !fragment.contains("<html"));
            let flag = format!("--{field}");
            let (ok, _, err) = cli(
                &lab.data(),
                &[
                    "deployment",
                    "add",
                    "--type",
                    "ur5e",
                    "--host",
                    "arm.lab",
                    &flag,
                    &text,
                ],
                None,
            );
            assert!(
                !ok && err.contains("text-direction marks"),
                "{field}: {err}"
            );
        }
    }
    assert_eq!(count(&lab, "deployments"), 0);
    let resp = lab.post_form(
        "/admin/deployments",
        &[
            ("type", "ur5e"),
            ("host", "arm.lab"),
            ("region", "מעבדה 4"),
            ("description", "Zoë's arm"),
        ],
    );
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(count(&lab, "deployments"), 1);
}

#[test]
fn key_names_follow_the_same_rule() {
    let lab = Lab::new();
    let password = lab.add_user("alice", false);
    lab.login("alice", &password);
    let key = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/keys/ed25519.pub"
    ))
    .expect("fixture");
    for mark in HIDDEN {
        let name = format!("laptop{mark}x");
        let resp = lab.post_form("/sshkeys", &[("key", key.as_str()), ("name", &name)]);
        assert_eq!(resp.status(), Status::UnprocessableEntity, "{mark:?}");
        let page = resp.into_string().unwrap_or_default();
        assert!(page.contains("text-direction marks"), "{mark:?}");
    }
    assert_eq!(count(&lab, "ssh_keys"), 0);
}
