//! Finding 1: slow and silent clients. Every connection must send its request head within the
//! head deadline and its body within the body deadline, idle kept-alive connections are
//! closed, and a crowd of silent connections leaves `/alive` and the robots' key lookup
//! answering. The bounds below are the server's deadlines plus room for a busy machine; before
//! the front server, each of these connections stayed open for good.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::running::{raise_own_file_limit, status_of, Running};
use crate::robot::fixture;

/// How long a test waits for the server to close a connection it should close.
const BOUND: Duration = Duration::from_secs(25);

fn connect(server: &Running) -> TcpStream {
    TcpStream::connect(("127.0.0.1", server.port)).expect("connect")
}

/// Reads until the server closes the connection, up to `BOUND`; returns what it sent, or
/// `None` when the connection was still open at the bound.
fn read_until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    stream.set_read_timeout(Some(BOUND)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(got),
            Err(_) => return None,
        }
    }
}

fn served() -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(&dir.path().join("data"), &[]);
    (server, dir)
}

#[test]
fn a_connection_that_sends_nothing_is_closed() {
    let (server, _dir) = served();
    let mut silent = connect(&server);
    assert!(
        read_until_closed(&mut silent).is_some(),
        "a silent connection was still open after {BOUND:?}"
    );
}

#[test]
fn headers_that_stop_halfway_or_trickle_are_cut_off() {
    let (server, _dir) = served();
    let mut halfway = connect(&server);
    halfway
        .write_all(b"GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    assert!(
        read_until_closed(&mut halfway).is_some(),
        "headers stopped halfway"
    );

    // A byte every half second never finishes the head; the deadline counts from the start.
    let mut trickle = connect(&server);
    let mut writer = trickle.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = writer.write_all(b"GET /alive HTTP/1.1\r\n");
        loop {
            std::thread::sleep(Duration::from_millis(500));
            if writer.write_all(b"X-A: b\r\n").is_err() {
                break;
            }
        }
    });
    assert!(
        read_until_closed(&mut trickle).is_some(),
        "trickled headers"
    );
}

#[test]
fn a_body_that_stops_halfway_is_answered_408_and_closed() {
    let (server, _dir) = served();
    let mut stream = connect(&server);
    stream
        .write_all(
            b"POST /api/sshkeys HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"key\": \"ssh-ed",
        )
        .unwrap();
    let answer = read_until_closed(&mut stream).expect("a stalled body was still open");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains("error_message"),
        "API answers in JSON: {text}"
    );
}

#[test]
fn an_idle_kept_alive_connection_is_closed() {
    let (server, _dir) = served();
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    // The whole answer comes, and then, with nothing more asked, the close.
    let answer = read_until_closed(&mut stream).expect("an idle connection was still open");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
}

#[test]
fn the_front_refuses_what_it_cannot_hand_on_with_a_clear_answer() {
    let (server, _dir) = served();
    let ask = |raw: &[u8]| {
        let mut stream = connect(&server);
        stream.write_all(raw).unwrap();
        let answer = read_until_closed(&mut stream).expect("answered and closed");
        String::from_utf8_lossy(&answer).into_owned()
    };
    // A header value that is not UTF-8.
    let text =
        ask(b"GET /alive HTTP/1.1\r\nHost: x\r\nX-Bad: \xff\xfe\r\nConnection: close\r\n\r\n");
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("UTF-8"), "{text}");
    // A body declared larger than any route takes: refused before it is read.
    let text = ask(b"POST /api/sshkeys HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n");
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("{\"error_message\":"), "{text}");
    // An absolute-form target reaches the route by its path.
    let text =
        ask(b"GET http://elsewhere.example/alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // HEAD: the length of the GET answer, no body.
    let text = ask(b"HEAD /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let length: usize = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .expect("content-length")
        .trim()
        .parse()
        .unwrap();
    assert!(length > 100, "{text}");
    assert!(text.ends_with("\r\n\r\n"), "no body after the head: {text}");
}

/// Opens up to `count` connections that never send a byte.
fn hold_silent(server: &Running, count: usize) -> Vec<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    (0..count)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
        .collect()
}

/// `/alive` and a robot's key lookup, each with a long patience; their statuses.
fn alive_and_lookup(server: &Running, robot: &fixture::Robot) -> (u16, u16) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(90))
        .build();
    let alive = status_of(agent.get(&format!("{}/alive", server.url)).call());
    let lookup = status_of(
        agent
            .get(&format!(
                "{}/api/deployment/{}/authorized_keys",
                server.url, robot.id
            ))
            .set("Authorization", &format!("Bearer {}", robot.credential))
            .call(),
    );
    (alive, lookup)
}

#[test]
#[ignore = "slow: holds connections open"]
fn a_thousand_silent_connections_leave_alive_and_robot_lookups_answering() {
    raise_own_file_limit();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // As in the finding: started with a soft limit of 64, which labgate raises to the hard one.
    let server = Running::start_limited(&data, &[], "ulimit -S -n 64");
    assert!(
        server.log_shows("open files: soft limit raised from 64 to the hard limit"),
        "{}",
        server.log()
    );
    let robot = fixture::add_robot(&fixture::db(&data), "ur5e", "root");
    let silent = hold_silent(&server, 1000);
    assert!(
        silent.len() >= 900,
        "only {} connections opened",
        silent.len()
    );
    assert_eq!(alive_and_lookup(&server, &robot), (200, 200));
    drop(silent);
}

#[test]
#[ignore = "slow: holds connections open"]
fn with_a_hard_limit_of_256_silent_connections_only_delay_the_answers() {
    raise_own_file_limit();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let robot = fixture::add_robot(&fixture::db(&data), "ur5e", "root");
    // 1,000 silent connections cannot all be open in a process limited to 256 descriptors:
    // accepting fails for a while, and the head deadline frees descriptors for the answers.
    let mut server = Running::start_limited(&data, &[], "ulimit -n 256");
    let silent = hold_silent(&server, 1000);
    assert_eq!(alive_and_lookup(&server, &robot), (200, 200));
    assert!(server.is_running());
    drop(silent);
    assert!(
        server.log().contains("cannot accept connections"),
        "{}",
        server.log()
    );
}

#[test]
fn sigterm_stops_the_server_promptly_and_cleanly_even_with_connections_open() {
    let (mut server, _dir) = served();
    // An idle kept-alive connection and a silent one must not hold the stop up.
    let mut idle = connect(&server);
    idle.write_all(b"GET /alive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    assert!(idle.read(&mut buf).unwrap() > 0);
    let _silent = connect(&server);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    // Well under the head deadline, which would close both connections anyway.
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after SIGTERM: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}: {}", server.log());
    assert!(server.log_shows("labgate stopped"), "{}", server.log());
}

#[test]
#[ignore = "slow: waits out the write deadline"]
fn a_client_that_stops_reading_answers_is_cut_off() {
    let (server, _dir) = served();
    let mut stream = connect(&server);
    // 600 pipelined asks for a 51 KiB file: about 30 MiB of answers, far more than the socket
    // buffers hold, so the server's writes stall while this client reads nothing.
    let asks = 600;
    let ask = b"GET /static/htmx.min.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(asks);
    stream.write_all(&ask).unwrap();
    std::thread::sleep(Duration::from_secs(20));
    // Past the stall bound the server has given up: what the buffers held arrives, then the
    // close, long before all 600 answers (which a server without the bound would now send).
    let got = read_until_closed(&mut stream).expect("closed after the stall");
    let answers = got.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count();
    assert!(answers > 0, "some answers were sent before the stall");
    assert!(
        answers < asks,
        "all {answers} answers came: the stalled write was never cut"
    );
}
