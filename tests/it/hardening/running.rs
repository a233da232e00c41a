//! The real `labgate serve` with its log captured, started the way each hardening test needs.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{free_port, labgate_bin, LABGATE_ENV};

/// A running server whose standard output and error are collected; killed on drop.
pub struct Running {
    pub child: Child,
    pub port: u16,
    pub url: String,
    log: Arc<Mutex<String>>,
}

impl Running {
    /// `labgate serve` on `data` with `env`, once `/alive` answers.
    pub fn start(data: &Path, env: &[(&str, &str)]) -> Running {
        Running::spawn(data, env, None)
    }

    /// The same, run by `sh` after `limits` (e.g. `ulimit -n 256`).
    pub fn start_limited(data: &Path, env: &[(&str, &str)], limits: &str) -> Running {
        Running::spawn(data, env, Some(limits))
    }

    fn spawn(data: &Path, env: &[(&str, &str)], limits: Option<&str>) -> Running {
        let port = free_port();
        let mut cmd = match limits {
            Some(limits) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("{limits} && exec \"$0\" \"$@\""))
                    .arg(labgate_bin());
                sh
            }
            None => Command::new(labgate_bin()),
        };
        for name in LABGATE_ENV {
            cmd.env_remove(name);
        }
        let mut child = cmd
            .args(["serve", "--port", &port.to_string(), "--data"])
            .arg(data)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start labgate serve");
        let log = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().expect("stdout"), log.clone());
        collect(child.stderr.take().expect("stderr"), log.clone());
        let url = format!("http://127.0.0.1:{port}");
        let mut running = Running {
            child,
            port,
            url,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if ureq::get(&format!("{}/alive", running.url)).call().is_ok() {
                return running;
            }
            if let Ok(Some(status)) = running.child.try_wait() {
                panic!("labgate serve exited with {status}: {}", running.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("labgate serve did not come up: {}", running.log());
    }

    /// Everything the server wrote so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits (a few seconds at most) until the log contains `needle`; whether it did.
    pub fn log_shows(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(stream: impl Read + Send + 'static, log: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Ok(mut log) = log.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
}

/// Raises this test process's own open-file soft limit to its hard limit (for tests that hold
/// many sockets).
pub fn raise_own_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
}

/// A status code from ureq, whether it counts as success or not; panics on transport errors.
pub fn status_of(result: Result<ureq::Response, ureq::Error>) -> u16 {
    match result {
        Ok(resp) => resp.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("transport error: {e}"),
    }
}
