//! Bookings in time: future windows, the overlap rule the database keeps under concurrent
//! requests, the robot key lookup within a booking's window only, cancelling, shortening and
//! extending, waiting in line (rerobots reservations), the timeline and the lab's time zone.

use rocket::http::{Header, Method, Status};
use serde_json::{json, Value};

use crate::common::*;
use crate::lab::{add_robot, api, db_of, event_kinds, instance_ids, lab_token, ED25519};
use crate::robot::{canonical, expected_line, fixture, key_file};

/// A lab with members mia and olga (rw tokens) and one ur5e robot.
struct Scene {
    lab: Lab,
    robot: String,
    mia: String,
    olga: String,
}

fn scene() -> Scene {
    let lab = Lab::new();
    lab.add_user("mia", false);
    lab.add_user("olga", false);
    let robot = add_robot(&lab.data(), "ur5e", "robot1.lab", 2222);
    let mia = lab_token(&lab, "mia", "rw");
    let olga = lab_token(&lab, "olga", "rw");
    Scene {
        lab,
        robot,
        mia,
        olga,
    }
}

fn now() -> i64 {
    labgate::db::now()
}

fn new_body(start: Option<i64>, seconds: i64, reserve: bool) -> String {
    let mut body = json!({ "sshkey": ED25519.trim(), "expire_d": seconds, "reserve": reserve });
    if let (Some(s), Value::Object(map)) = (start, &mut body) {
        map.insert("start".into(), json!(s));
    }
    body.to_string()
}

/// The live bookings of a robot as (start, end), by start.
fn windows(lab: &Lab, robot: &str) -> Vec<(i64, i64)> {
    let robot = robot.to_owned();
    db_of(&lab.data())
        .run_blocking(move |c| {
            let mut stmt = c.prepare(
                "SELECT starts, expires FROM instances WHERE deployment_id = ?1
                 AND status <> 'TERMINATED' ORDER BY starts",
            )?;
            let rows = stmt
                .query_map([&robot], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .expect("windows")
}

fn assert_no_overlap(w: &[(i64, i64)]) {
    for pair in w.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping bookings: {w:?}");
    }
}

#[test]
fn a_future_booking_by_api_then_overlaps_are_refused_and_neighbours_fit() {
    let s = scene();
    let start = now() + 3 * 3600;
    let (status, made) = api(
        &s.lab,
        Method::Post,
        &format!("/api/new/{}", s.robot),
        Some(&s.mia),
        Some(&new_body(Some(start), 3600, false)),
    );
    assert_eq!(status, Status::Ok, "{made}");
    let id = made["id"].as_str().unwrap().to_owned();
    let (_, info) = api(
        &s.lab,
        Method::Get,
        &format!("/api/instance/{id}"),
        Some(&s.mia),
        None,
    );
    assert_eq!(info["status"], "INIT", "not started yet: {info}");
    assert_eq!(info["starttime"], labgate::lab::api::api_time(start));
    // The robot is free now: someone else books it now, for an hour.
    let (status, _) = api(
        &s.lab,
        Method::Post,
        &format!("/api/new/{}", s.robot),
        Some(&s.olga),
        Some(&new_body(None, 3600, false)),
    );
    assert_eq!(status, Status::Ok);
    // Overlapping mia's window, from either side or inside: busy.
    for (from, len) in [
        (start - 1800, 3600),
        (start + 1800, 3600),
        (start + 600, 600),
    ] {
        let (status, json) = api(
            &s.lab,
            Method::Post,
            &format!("/api/new/{}", s.robot),
            Some(&s.olga),
            Some(&new_body(Some(from), len, false)),
        );
        assert_eq!(status, Status::ServiceUnavailable, "{from}: {json}");
    }
    // Touching it end to end is fine.
    let (status, json) = api(
        &s.lab,
        Method::Post,
        &format!("/api/new/{}", s.robot),
        Some(&s.olga),
        Some(&new_body(Some(start + 3600), 1800, false)),
    );
    assert_eq!(status, Status::Ok, "{json}");
    let w = windows(&s.lab, &s.robot);
    assert_eq!(w.len(), 3);
    assert_no_overlap(&w);
    // Past starts and starts beyond the admin's limit are refused with a reason.
    for (from, needle) in [
        (now() - 3600, "in the past"),
        (now() + 15 * 86400, "at most 14 days ahead"),
    ] {
        let (status, json) = api(
            &s.lab,
            Method::Post,
            "/api/new/ur5e",
            Some(&s.mia),
            Some(&new_body(Some(from), 600, false)),
        );
        assert_eq!(status, Status::UnprocessableEntity, "{json}");
        assert!(
            json["result_message"].as_str().unwrap().contains(needle),
            "{json}"
        );
    }
    let (status, json) = api(
        &s.lab,
        Method::Post,
        "/api/new/ur5e",
        Some(&s.mia),
        Some(r#"{"start": "tomorrow"}"#),
    );
    assert_eq!(status, Status::BadRequest);
    assert!(json["result_message"]
        .as_str()
        .unwrap()
        .contains("RFC 3339"));
    assert!(event_kinds(&db_of(&s.lab.data()), "mia").contains(&"booking made".to_owned()));
}

#[test]
fn the_database_itself_refuses_overlapping_bookings() {
    let s = scene();
    let db = db_of(&s.lab.data());
    let robot = s.robot.clone();
    let insert = move |id: &str, starts: i64, expires: i64| {
        let (id, robot) = (id.to_owned(), robot.clone());
        db.write_blocking(move |tx| {
            Ok(tx.execute(
                "INSERT INTO instances (id, deployment_id, user_id, status, created, starts, expires)
                 VALUES (?1, ?2, 2, 'READY', 0, ?3, ?4)",
                rusqlite::params![id, robot, starts, expires],
            )?)
        })
    };
    let t = now() + 86400;
    assert!(insert("a", t, t + 3600).is_ok());
    assert!(insert("b", t + 3599, t + 7200).is_err(), "overlap");
    assert!(insert("c", t - 60, t + 1).is_err(), "overlap at the start");
    assert!(insert("d", t + 10, t + 10).is_err(), "empty window");
    assert!(insert("e", t + 3600, t + 7200).is_ok(), "end to end");
    // Stretching one into the other is refused too.
    let db = db_of(&s.lab.data());
    let stretched = db.write_blocking(|tx| {
        Ok(tx.execute(
            "UPDATE instances SET expires = expires + 60 WHERE id = 'a'",
            [],
        )?)
    });
    assert!(stretched.is_err());
    assert_eq!(windows(&s.lab, &s.robot).len(), 2);
}

/// Many clients at once, on the real server, ask for overlapping windows of one robot: every
/// request is answered, the winners never overlap, and each answer matches the database.
#[test]
fn parallel_requests_for_overlapping_windows_never_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data);
    let url = served.url.clone();
    let robot = add_robot(&data, "ur5e", "robot1.lab", 22);
    let mut tokens = Vec::new();
    for n in 0..6 {
        let name = format!("member{n}");
        let (ok, _, err) = cli(&data, &["user", "add", &name], None);
        assert!(ok, "{err}");
        tokens.push(crate::lab::token_for(&data, &url, &name, "rw"));
    }
    let base = now() + 3600;
    let mut threads = Vec::new();
    for k in 0..18i64 {
        let (url, robot, token) = (url.clone(), robot.clone(), tokens[k as usize % 6].clone());
        threads.push(std::thread::spawn(move || {
            // Windows of 1 h every 20 min: each overlaps its neighbours.
            let body = new_body(Some(base + k * 1200), 3600, false);
            match ureq::post(&format!("{url}/api/new/{robot}"))
                .set("Authorization", &format!("Bearer {token}"))
                .send_string(&body)
            {
                Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
                Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
                Err(e) => panic!("request failed: {e}"),
            }
        }));
    }
    let answers: Vec<(u16, String)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let won = answers.iter().filter(|(c, _)| *c == 200).count();
    let busy = answers.iter().filter(|(c, _)| *c == 503).count();
    assert_eq!(won + busy, answers.len(), "only 200 or 503: {answers:?}");
    // At most one in three windows can be had (each overlaps two neighbours on either side).
    assert!(
        (1..=6).contains(&won) && busy >= 12,
        "{won} won, {busy} busy"
    );
    let lab_db = db_of(&data);
    let robot2 = robot.clone();
    let w: Vec<(i64, i64)> = lab_db
        .run_blocking(move |c| {
            let mut stmt = c.prepare(
                "SELECT starts, expires FROM instances WHERE deployment_id = ?1
                 AND status <> 'TERMINATED' ORDER BY starts",
            )?;
            let rows = stmt
                .query_map([&robot2], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .unwrap();
    assert_eq!(w.len(), won);
    assert_no_overlap(&w);
    drop(served);
}

/// The robot's key lookup serves a future booking's keys only from its start to its end.
#[test]
fn key_lookup_serves_a_booking_only_within_its_window() {
    let lab = Lab::new();
    lab.add_user("alice", false);
    let db = fixture::db(&lab.data());
    let robot = fixture::add_robot(&db, "ur5e", "root");
    let token = lab_token(&lab, "alice", "rw");
    let key = key_file("ed25519.pub");
    let start = now() + 2 * 3600;
    let (status, made) = api(
        &lab,
        Method::Post,
        &format!("/api/new/{}", robot.id),
        Some(&token),
        Some(&json!({"sshkey": key, "start": start, "expire_d": 3600}).to_string()),
    );
    assert_eq!(status, Status::Ok, "{made}");
    let id = made["id"].as_str().unwrap().to_owned();
    let ask = || {
        lab.client
            .get(format!("/api/deployment/{}/authorized_keys", robot.id))
            .header(Header::new(
                "Authorization",
                format!("Bearer {}", robot.credential),
            ))
            .dispatch()
            .into_string()
            .unwrap_or_default()
    };
    assert_eq!(ask(), "", "nothing before the start");
    // The clock reaches the start: the window is moved so that it began a second ago.
    let shift = |starts: i64, expires: i64| {
        let id = id.clone();
        db.write_blocking(move |tx| {
            tx.execute(
                "UPDATE instances SET starts = ?2, expires = ?3 WHERE id = ?1",
                rusqlite::params![id, starts, expires],
            )?;
            Ok(())
        })
        .unwrap();
    };
    let t = now();
    shift(t - 1, t + 3599);
    assert_eq!(ask(), expected_line(&key, t + 3599));
    assert!(ask().contains(&canonical(&key)));
    // Its end has passed.
    shift(t - 3600, t - 1);
    assert_eq!(ask(), "", "nothing after the end");
}

#[test]
fn cancel_shorten_and_extend_by_api_and_page() {
    let s = scene();
    let pw = "pw-mia-0123456789";
    s.lab.login("mia", pw);
    let start = now() + 86400;
    let (_, made) = api(
        &s.lab,
        Method::Post,
        &format!("/api/new/{}", s.robot),
        Some(&s.mia),
        Some(&new_body(Some(start), 3600, false)),
    );
    let later = made["id"].as_str().unwrap().to_owned();
    // Olga books right after mia's window.
    let (status, _) = api(
        &s.lab,
        Method::Post,
        &format!("/api/new/{}", s.robot),
        Some(&s.olga),
        Some(&new_body(Some(start + 5400), 3600, false)),
    );
    assert_eq!(status, Status::Ok);
    let page = s
        .lab
        .client
        .get("/instances")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        page.contains("Cancel booking") && page.contains("booked"),
        "{page}"
    );
    // Extend by 30 min fits; by another hour runs into olga's booking.
    let change = |by: &str, what: &str| {
        s.lab
            .post_form(
                &format!("/instances/{later}/change"),
                &[("change", what), ("by", by)],
            )
            .status()
    };
    let status = change("1800", "extend");
    assert_eq!(status, Status::SeeOther);
    assert_eq!(windows(&s.lab, &s.robot)[0], (start, start + 5400));
    let resp = s.lab.post_htmx(
        &format!("/instances/{later}/change"),
        &[("change", "extend"), ("by", "3600")],
    );
    assert_eq!(resp.status(), Status::UnprocessableEntity);
    let trigger = resp
        .headers()
        .get_one("HX-Trigger")
        .unwrap_or_default()
        .to_owned();
    assert!(trigger.contains("booked right after"), "{trigger}");
    assert_eq!(windows(&s.lab, &s.robot)[0], (start, start + 5400));
    let status = change("3600", "shorten");
    assert_eq!(status, Status::SeeOther);
    assert_eq!(windows(&s.lab, &s.robot)[0], (start, start + 1800));
    // Amounts not offered are refused as bad input.
    let resp = s.lab.post_form(
        &format!("/instances/{later}/change"),
        &[("change", "extend"), ("by", "99999")],
    );
    assert_eq!(resp.status(), Status::BadRequest);
    // Olga cannot touch mia's booking.
    let (status, _) = api(
        &s.lab,
        Method::Post,
        &format!("/api/terminate/{later}"),
        Some(&s.olga),
        None,
    );
    assert_eq!(status, Status::NotFound);
    // Cancel on the page: the window frees.
    let resp = s
        .lab
        .post_form(&format!("/instances/{later}/terminate"), &[]);
    assert_eq!(resp.status(), Status::SeeOther);
    assert_eq!(windows(&s.lab, &s.robot).len(), 1);
    let page = s
        .lab
        .client
        .get("/instances")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(page.contains("cancelled"), "{page}");
    let kinds = event_kinds(&db_of(&s.lab.data()), "mia");
    for k in [
        "booking made",
        "booking extended",
        "booking shortened",
        "booking cancelled",
    ] {
        assert!(kinds.contains(&k.to_owned()), "{k} in {kinds:?}");
    }
}

#[test]
fn reservations_wait_in_line_and_become_instances() {
    let s = scene();
    let db = db_of(&s.lab.data());
    let (status, held) = api(
        &s.lab,
        Method::Post,
        "/api/new/ur5e",
        Some(&s.olga),
        Some(&new_body(None, 3600, false)),
    );
    assert_eq!(status, Status::Ok);
    let held = held["id"].as_str().unwrap().to_owned();
    // Busy without reserve; with reserve, a place in line, answered as rerobots does.
    let (status, _) = api(
        &s.lab,
        Method::Post,
        "/api/new/ur5e",
        Some(&s.mia),
        Some(&new_body(None, 600, false)),
    );
    assert_eq!(status, Status::ServiceUnavailable);
    let (status, r) = api(
        &s.lab,
        Method::Post,
        "/api/new/ur5e",
        Some(&s.mia),
        Some(&new_body(None, 600, true)),
    );
    assert_eq!(status, Status::Ok, "{r}");
    assert_eq!(r["success"], false);
    let rid = r["id"].as_str().unwrap().to_owned();
    let (status, list) = api(&s.lab, Method::Get, "/api/reservations", Some(&s.mia), None);
    assert_eq!(status, Status::Ok);
    assert_eq!(list["reservations"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["reservations"][0]["id"], rid.as_str());
    assert_eq!(list["reservations"][0]["desc"], "type ur5e");
    assert!(list["reservations"][0]["created"].is_string());
    // Once per member per target; others see none of it.
    let (status, json) = api(
        &s.lab,
        Method::Post,
        "/api/new/ur5e",
        Some(&s.mia),
        Some(&new_body(None, 600, true)),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{json}");
    assert!(json["result_message"]
        .as_str()
        .unwrap()
        .contains("already waiting"));
    let (_, other) = api(
        &s.lab,
        Method::Get,
        "/api/reservations",
        Some(&s.olga),
        None,
    );
    assert_eq!(other, json!({ "reservations": [] }));
    let (status, _) = api(
        &s.lab,
        Method::Delete,
        &format!("/api/reservation/{rid}"),
        Some(&s.olga),
        None,
    );
    assert_eq!(status, Status::NotFound);
    // queuelen counts the waiting member.
    let (_, info) = api(
        &s.lab,
        Method::Get,
        &format!("/api/deployment/{}", s.robot),
        Some(&s.mia),
        None,
    );
    assert_eq!(info["queuelen"], 2);
    // Cancel, then wait again, by robot id this time and with a generated key pair.
    let (status, _) = api(
        &s.lab,
        Method::Delete,
        &format!("/api/reservation/{rid}"),
        Some(&s.mia),
        None,
    );
    assert_eq!(status, Status::Ok);
    let (_, list) = api(&s.lab, Method::Get, "/api/reservations", Some(&s.mia), None);
    assert_eq!(list, json!({ "reservations": [] }));
    let (status, r) = api(
        &s.lab,
        Method::Post,
        &format!("/api/new/{}", s.robot),
        Some(&s.mia),
        Some(r#"{"reserve": true, "expire_d": 900}"#),
    );
    assert_eq!(status, Status::Ok, "{r}");
    assert_eq!(r["success"], false);
    assert!(r.get("sshkey").is_none());
    assert!(instance_ids(&db, "mia").is_empty());
    // The robot frees: the reservation becomes mia's instance at once.
    let (status, _) = api(
        &s.lab,
        Method::Post,
        &format!("/api/terminate/{held}"),
        Some(&s.olga),
        None,
    );
    assert_eq!(status, Status::Ok);
    let (_, list) = api(&s.lab, Method::Get, "/api/instances", Some(&s.mia), None);
    let ids = list["workspace_instances"].as_array().unwrap().clone();
    assert_eq!(ids.len(), 1, "{list}");
    let id = ids[0].as_str().unwrap();
    let (_, info) = api(
        &s.lab,
        Method::Get,
        &format!("/api/instance/{id}"),
        Some(&s.mia),
        None,
    );
    assert_eq!(info["status"], "READY");
    assert_eq!(info["deployment"], s.robot.as_str());
    let (_, list) = api(&s.lab, Method::Get, "/api/reservations", Some(&s.mia), None);
    assert_eq!(list, json!({ "reservations": [] }));
    // The generated pair's private key is there to fetch once.
    let (status, key) = api(
        &s.lab,
        Method::Get,
        &format!("/api/instance/{id}/sshkey"),
        Some(&s.mia),
        None,
    );
    assert_eq!(status, Status::Ok, "{key}");
    assert!(key["key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let (status, _) = api(
        &s.lab,
        Method::Get,
        &format!("/api/instance/{id}/sshkey"),
        Some(&s.mia),
        None,
    );
    assert_eq!(status, Status::NotFound);
    let kinds = event_kinds(&db, "mia");
    for k in [
        "reservation made",
        "reservation cancelled",
        "instance created",
    ] {
        assert!(kinds.contains(&k.to_owned()), "{k} in {kinds:?}");
    }
    // Unknown targets are refused, not queued.
    let (status, _) = api(
        &s.lab,
        Method::Post,
        "/api/new/nothing",
        Some(&s.mia),
        Some(&new_body(None, 600, true)),
    );
    assert_eq!(status, Status::NotFound);
}

#[test]
fn reservations_lapse_after_the_admin_set_time() {
    let s = scene();
    let db = db_of(&s.lab.data());
    api(
        &s.lab,
        Method::Post,
        "/api/new/ur5e",
        Some(&s.olga),
        Some(&new_body(None, 3600, false)),
    );
    let (_, r) = api(
        &s.lab,
        Method::Post,
        "/api/new/ur5e",
        Some(&s.mia),
        Some(&new_body(None, 600, true)),
    );
    let rid = r["id"].as_str().unwrap().to_owned();
    // Its time runs out.
    let id = rid.clone();
    db.write_blocking(move |tx| {
        tx.execute(
            "UPDATE reservations SET expires = ?2 WHERE id = ?1",
            rusqlite::params![id, now() - 1],
        )?;
        Ok(())
    })
    .unwrap();
    let (_, list) = api(&s.lab, Method::Get, "/api/reservations", Some(&s.mia), None);
    assert_eq!(list, json!({ "reservations": [] }));
    let ended = db
        .write_blocking(|tx| labgate::lab::instances::sweep_expired(tx))
        .unwrap();
    assert_eq!(ended, 0);
    assert!(event_kinds(&db, "mia").contains(&"reservation expired".to_owned()));
    let rid2 = rid.clone();
    let status: String = db
        .run_blocking(move |c| {
            Ok(c.query_row(
                "SELECT status FROM reservations WHERE id = ?1",
                [&rid2],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(status, "EXPIRED");
}

#[test]
fn book_ahead_wait_in_line_and_timeline_on_the_page() {
    let s = scene();
    s.lab.login("mia", "pw-mia-0123456789");
    crate::lab::save_key(&s.lab.data(), "mia", "laptop", ED25519);
    let key_id: String = db_of(&s.lab.data())
        .run_blocking(|c| {
            Ok(
                c.query_row("SELECT id FROM ssh_keys", [], |r| r.get::<_, i64>(0))?
                    .to_string(),
            )
        })
        .unwrap();
    let start = labgate::zone::LabZone::utc().input_value(now() + 2 * 86400);
    let resp = s.lab.post_form(
        "/instances",
        &[
            ("robot", s.robot.as_str()),
            ("keys", &key_id),
            ("start", &start),
            ("duration", "3600"),
        ],
    );
    assert_eq!(resp.status(), Status::SeeOther);
    let page = s
        .lab
        .client
        .get("/instances")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        page.contains("Booked ur5e robot1.lab from"),
        "flash: {page}"
    );
    assert!(page.contains("timeline-slot"), "{page}");
    assert!(
        page.contains("Next 7 days") && page.contains(">mia<"),
        "{page}"
    );
    // Beside the form, the free windows around it, in the lab's time zone.
    let booked_from = windows(&s.lab, &s.robot)[0].0;
    let zone = labgate::zone::LabZone::utc();
    let listed = page
        .split("timeline-windows\">Free: ")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_default();
    assert!(
        listed.contains(&format!("– {}", zone.format(booked_from))),
        "the free window before the booking ends at its start: {listed:?}"
    );
    // Olga's view of the timeline names nobody.
    s.lab.login("olga", "pw-olga-0123456789");
    let seen = s
        .lab
        .client
        .get("/instances")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        seen.contains(">booked<") && !seen.contains(">mia<"),
        "{seen}"
    );
    s.lab.login("mia", "pw-mia-0123456789");
    // The timeline over the API: mia's booking and the free windows around it.
    let (status, line) = api(
        &s.lab,
        Method::Get,
        &format!("/api/deployment/{}/timeline", s.robot),
        Some(&s.olga),
        None,
    );
    assert_eq!(status, Status::Ok, "{line}");
    assert_eq!(line["timezone"], "UTC");
    assert_eq!(line["bookings"].as_array().unwrap().len(), 1);
    assert_eq!(line["bookings"][0]["user"], Value::Null);
    assert_eq!(line["bookings"][0]["mine"], false);
    assert_eq!(line["free"].as_array().unwrap().len(), 2);
    let (status, _) = api(
        &s.lab,
        Method::Get,
        "/api/deployment/nope/timeline",
        Some(&s.olga),
        None,
    );
    assert_eq!(status, Status::NotFound);
    // A start in the past keeps the form and says why (422).
    let past = labgate::zone::LabZone::utc().input_value(now() - 86400);
    let resp = s.lab.post_htmx(
        "/instances",
        &[
            ("robot", s.robot.as_str()),
            ("keys", &key_id),
            ("start", &past),
        ],
    );
    assert_eq!(resp.status(), Status::UnprocessableEntity);
    let body = resp.into_string().unwrap();
    assert!(
        body.contains("in the past") && body.contains(&past),
        "{body}"
    );
    // Olga takes the robot now; mia waits in line on the page, then gets it.
    api(
        &s.lab,
        Method::Post,
        "/api/new/ur5e",
        Some(&s.olga),
        Some(&new_body(None, 3600, false)),
    );
    let resp = s.lab.post_form(
        "/instances",
        &[
            ("robot", "ur5e"),
            ("keys", &key_id),
            ("reserve", "true"),
            ("duration", "3600"),
        ],
    );
    assert_eq!(resp.status(), Status::SeeOther);
    let page = s
        .lab
        .client
        .get("/instances")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        page.contains("Waiting in line") && page.contains("type ur5e"),
        "{page}"
    );
    let (_, mine) = api(&s.lab, Method::Get, "/api/instances", Some(&s.olga), None);
    let held = mine["workspace_instances"][0].as_str().unwrap().to_owned();
    api(
        &s.lab,
        Method::Post,
        &format!("/api/terminate/{held}"),
        Some(&s.olga),
        None,
    );
    let page = s
        .lab
        .client
        .get("/instances")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(!page.contains("Waiting in line"), "{page}");
    assert!(
        page.contains("Host key fingerprints"),
        "a running instance: {page}"
    );
    assert_eq!(instance_ids(&db_of(&s.lab.data()), "mia").len(), 2);
}

#[test]
fn the_lab_time_zone_is_an_admin_setting_and_dst_gaps_are_refused() {
    let s = scene();
    s.lab.login_admin();
    let page = s
        .lab
        .client
        .get("/admin/limits")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        page.contains("Lab time zone") && page.contains("value=\"UTC\""),
        "{page}"
    );
    let bad = s.lab.post_form(
        "/admin/limits/bookings",
        &[
            ("ahead_seconds", "604800"),
            ("max_future", "3"),
            ("reservation_seconds", "3600"),
            ("timezone", "Mars/Olympus"),
        ],
    );
    assert_eq!(bad.status(), Status::UnprocessableEntity);
    assert!(bad.into_string().unwrap().contains("not a time zone"));
    let ok = s.lab.post_form(
        "/admin/limits/bookings",
        &[
            ("ahead_seconds", "604800"),
            ("max_future", "3"),
            ("reservation_seconds", "3600"),
            ("timezone", "Europe/Berlin"),
        ],
    );
    assert_eq!(ok.status(), Status::SeeOther);
    let page = s
        .lab
        .client
        .get("/admin/limits")
        .dispatch()
        .into_string()
        .unwrap();
    // minijinja escapes the slash.
    assert!(page.contains("value=\"Europe&#x2f;Berlin\""), "{page}");
    // The page now reads starts in Berlin time: a start in the hour skipped by the change to
    // summer time is refused with a reason, whatever the date.
    let resp = s.lab.post_htmx(
        "/instances",
        &[
            ("robot", s.robot.as_str()),
            ("pasted", ED25519),
            ("start", "2027-03-28T02:30"),
        ],
    );
    assert_eq!(resp.status(), Status::UnprocessableEntity);
    let body = resp.into_string().unwrap();
    assert!(
        body.contains("does not exist in Europe&#x2f;Berlin"),
        "{body}"
    );
    // A Berlin start is stored as UTC: 2 days ahead at 10:00 local.
    let zone = labgate::zone::LabZone::named("Europe/Berlin").unwrap();
    let local = zone.input_value(now() + 2 * 86400);
    let local = format!("{}T10:00", &local[..10]);
    let resp = s.lab.post_form(
        "/instances",
        &[
            ("robot", s.robot.as_str()),
            ("pasted", ED25519),
            ("start", &local),
        ],
    );
    assert_eq!(resp.status(), Status::SeeOther);
    let stored = windows(&s.lab, &s.robot)[0].0;
    assert_eq!(stored, zone.parse_local(&local).unwrap());
    assert_eq!(zone.input_value(stored), local);
    // The limits hold: at most 7 days ahead now.
    let far = zone.input_value(now() + 8 * 86400);
    let resp = s.lab.post_htmx(
        "/instances",
        &[
            ("robot", s.robot.as_str()),
            ("pasted", ED25519),
            ("start", &far),
        ],
    );
    assert_eq!(resp.status(), Status::UnprocessableEntity);
    assert!(resp.into_string().unwrap().contains("at most 7 days ahead"));
    let admin_page = s
        .lab
        .client
        .get("/admin/deployments")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        admin_page.contains("Next 7 days") && admin_page.contains(">admin<"),
        "{admin_page}"
    );
}

#[test]
fn admins_end_or_cancel_any_booking_from_the_robots_page() {
    let s = scene();
    let start = now() + 86400;
    let (_, made) = api(
        &s.lab,
        Method::Post,
        &format!("/api/new/{}", s.robot),
        Some(&s.mia),
        Some(&new_body(Some(start), 3600, false)),
    );
    let id = made["id"].as_str().unwrap().to_owned();
    // A member may not use the admin route: it does not exist for them.
    s.lab.login("olga", "pw-olga-0123456789");
    let resp = s.lab.post_form(
        &format!("/admin/bookings/{id}/end"),
        &[("reason", "lab closed")],
    );
    assert_eq!(resp.status(), Status::NotFound);
    assert_eq!(windows(&s.lab, &s.robot).len(), 1);
    s.lab.login_admin();
    let page = s
        .lab
        .client
        .get("/admin/deployments")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        page.contains(&format!("/admin/bookings/{id}/end")),
        "{page}"
    );
    assert!(page.contains("mia: "), "{page}");
    let resp = s.lab.post_form(
        &format!("/admin/bookings/{id}/end"),
        &[("reason", "lab closed")],
    );
    assert_eq!(resp.status(), Status::SeeOther);
    assert!(windows(&s.lab, &s.robot).is_empty());
    let kinds = event_kinds(&db_of(&s.lab.data()), "mia");
    assert!(kinds.contains(&"booking cancelled".to_owned()), "{kinds:?}");
    let resp = s
        .lab
        .post_form("/admin/bookings/nope/end", &[("reason", "lab closed")]);
    assert_eq!(resp.status(), Status::NotFound);
}
