#!/usr/bin/env python3
"""Requests per second and latency of labgate's token-checked API and of a console page, from
one client process on loopback against a release server. Every API request verifies the JWT,
checks revocation in SQLite and answers JSON.

Usage: python3 bench/api-throughput.py [SECONDS]   (default 5 per endpoint)
Needs a release build (`cargo build --release`), or the binary named by LABGATE_BIN; starts and
stops its own server."""

import http.client, json, os, re, socket, subprocess, sys, tempfile, time, urllib.parse

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.path.abspath(os.environ.get("LABGATE_BIN")
                         or os.path.join(root, "target", "release", "labgate"))
work = tempfile.mkdtemp()
data = os.path.join(work, "data")
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()

server = subprocess.Popen([binary, "serve", "--port", str(port), "--data", data],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", "/alive")
            if c.getresponse().status == 200: break
        except OSError: time.sleep(0.05)
    subprocess.run([binary, "user", "add", "bench", "--password-stdin", "--data", data],
                   input=b"bench-password-123\n", check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run([binary, "token", "issue", "bench", "--data", data],
                           check=True, capture_output=True).stdout.decode().strip()

    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/login")
    page = conn.getresponse(); page.read()
    login_csrf = re.search(r"labgate_login=([^;]+)", page.getheader("Set-Cookie")).group(1)
    body = urllib.parse.urlencode({"username": "bench", "password": "bench-password-123",
                                   "csrf_token": login_csrf})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded",
                                          "Cookie": f"labgate_login={login_csrf}"})
    resp = conn.getresponse(); resp.read()
    cookie = re.match(r"([^;]+)", resp.getheader("Set-Cookie")).group(1)

    def run(name, path, headers):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        times, end = [], time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            conn.request("GET", path, headers=headers)
            r = conn.getresponse(); r.read()
            assert r.status == 200, (path, r.status)
            times.append(time.perf_counter() - t)
        times.sort()
        print(f"{name:<28} {len(times)/seconds:8.0f} req/s   median {times[len(times)//2]*1e3:6.2f} ms"
              f"   p99 {times[int(len(times)*0.99)]*1e3:6.2f} ms")

    run("GET /api/sshkeys (Bearer)", "/api/sshkeys", {"Authorization": f"Bearer {token}"})
    run("GET /api/workspaces (Bearer)", "/api/workspaces", {"Authorization": f"Bearer {token}"})
    run("GET /sshkeys (page, cookie)", "/sshkeys", {"Cookie": cookie})
    with open(f"/proc/{server.pid}/status") as f:
        rss = [l for l in f if l.startswith("VmHWM")][0].split()[1]
    print(f"server peak resident memory: {rss} KiB")
finally:
    server.terminate(); server.wait()
