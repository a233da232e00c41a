//! The saturation suite: about a minute of load on loopback against the real binary (the API
//! with a Bearer token, a signed-in page, `/alive`) from a few client threads. No answer may
//! be a 5xx, no request may fail to connect, and the server's resident memory must level off
//! (the last third of the run may not keep climbing above the middle third, beyond noise).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::running::Running;
use crate::common::{cli, web_login};

/// Length of the load run.
const RUN: Duration = Duration::from_secs(60);
/// Growth of the peak resident memory from the middle to the last third that counts as noise.
const NOISE_KIB: u64 = 4 * 1024;

/// Resident memory of `pid`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
#[ignore = "slow: saturation"]
fn a_minute_of_load_gets_no_errors_and_memory_levels_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Running::start(&data, &[]);
    let (ok, _, err) = cli(
        &data,
        &["user", "add", "erin", "--password-stdin"],
        Some("erins-password-for-load\n"),
    );
    assert!(ok, "{err}");
    let (ok, token, err) = cli(&data, &["token", "issue", "erin"], None);
    assert!(ok, "{err}");
    let bearer = format!("Bearer {}", token.trim());
    let login = web_login(&server.url, "erin", "erins-password-for-load");
    assert_eq!(login.status(), 303);
    let session = login
        .all("Set-Cookie")
        .into_iter()
        .find_map(|c| c.strip_prefix("labgate_session="))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_owned();
    let cookie = format!("labgate_session={session}");

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    let routes: [(&str, Option<(&str, String)>); 4] = [
        ("/api/sshkeys", Some(("Authorization", bearer.clone()))),
        ("/api/tokens", Some(("Authorization", bearer))),
        ("/sshkeys", Some(("Cookie", cookie))),
        ("/alive", None),
    ];
    for (path, header) in routes {
        let (stop, failures) = (stop.clone(), failures.clone());
        let url = format!("{}{path}", server.url);
        workers.push(std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build();
            let mut count = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut req = agent.get(&url);
                if let Some((name, value)) = &header {
                    req = req.set(name, value);
                }
                let problem = match req.call() {
                    Ok(resp) if resp.status() == 200 => {
                        resp.into_string().err().map(|e| e.to_string())
                    }
                    Ok(resp) => Some(format!("status {}", resp.status())),
                    Err(e) => Some(e.to_string()),
                };
                if let Some(problem) = problem {
                    if let Ok(mut f) = failures.lock() {
                        f.push(format!("{url}: {problem}"));
                    }
                }
                count += 1;
            }
            count
        }));
    }

    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < RUN {
        std::thread::sleep(Duration::from_millis(500));
        if let Some(kib) = rss_kib(server.pid()) {
            samples.push(kib);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let requests: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failed, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(samples.len() >= 30, "{samples:?}");
    let third = samples.len() / 3;
    let middle = samples[third..2 * third].iter().max().copied().unwrap_or(0);
    let last = samples[2 * third..].iter().max().copied().unwrap_or(0);
    eprintln!(
        "saturation: {requests} requests in {:?}; resident KiB: start {}, middle peak {middle}, last peak {last}",
        started.elapsed(),
        samples[0]
    );
    assert!(
        last <= middle + middle / 10 + NOISE_KIB,
        "resident memory kept growing: middle third peak {middle} KiB, last third peak {last} KiB"
    );
}
