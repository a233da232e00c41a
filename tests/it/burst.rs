//! A burst of bookings that ask labgate to make a key pair, over a real socket against the real
//! binary: the robot is claimed before any pair is made, so a dozen requests for one robot cost
//! one RSA generation, and the other eleven are told the robot is busy at once.

use std::sync::{Arc, Barrier};

use crate::common::*;

#[test]
fn twelve_parallel_bookings_of_one_robot_make_one_key_pair() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let (ok, _, err) = cli(&data, &["user", "add", "alice"], None);
    assert!(ok, "{err}");
    let (ok, out, err) = cli(&data, &["token", "issue", "alice"], None);
    assert!(ok, "{err}");
    let token = out.trim().to_owned();
    let robot = cli_add_arm(&data);

    let start = Arc::new(Barrier::new(12));
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let (start, token) = (Arc::clone(&start), token.clone());
            let url = format!("{}/api/new/{robot}", served.url);
            std::thread::spawn(move || {
                start.wait();
                match ureq::post(&url)
                    .set("Authorization", &format!("Bearer {token}"))
                    .send_string("{}")
                {
                    Ok(resp) => (resp.status(), resp.into_string().unwrap_or_default()),
                    Err(ureq::Error::Status(code, resp)) => {
                        (code, resp.into_string().unwrap_or_default())
                    }
                    Err(e) => panic!("transport: {e}"),
                }
            })
        })
        .collect();
    let answers: Vec<(u16, String)> = calls
        .into_iter()
        .map(|c| c.join().expect("thread"))
        .collect();
    let won: Vec<_> = answers.iter().filter(|(s, _)| *s < 300).collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    assert!(
        won[0].1.contains("BEGIN RSA PRIVATE KEY"),
        "the winner gets its key"
    );
    for (status, body) in answers.iter().filter(|(s, _)| *s >= 300) {
        // rerobots' own answer for a busy robot.
        assert_eq!(*status, 503, "{body}");
        assert!(body.contains("busy"), "{body}");
    }

    let conn = rusqlite::Connection::open(data.join("labgate.db")).expect("db");
    let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    assert_eq!(one("SELECT COUNT(*) FROM instances"), 1);
    // Every generated pair ends up on its booking: one row, one generation.
    assert_eq!(
        one("SELECT COUNT(*) FROM instance_keys WHERE ssh_key_id IS NULL"),
        1
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM events WHERE kind = 'instance created'"),
        1
    );
    drop(served);
}
