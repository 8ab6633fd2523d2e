#!/usr/bin/python3
"""Lanner against its peers, on the same apps with the same load, in one run.

Every configuration (server x target) runs under an exclusive lock on /tmp/bench.lock (so no
two load runs overlap on the 2 cores), with the reference harness's settings
(../shared/bench/peers.sh): 2 workers wherever a server has workers, a 2 s warm-up with
`wrk -t2 -c64 -d2s`, then `wrk -t2 -c64 -d8s --latency` with keep-alive. Memory is the RSS and
PSS summed over the server's process tree after the warm-up; CPU is sampled from /proc during
the timed run.

"Busy" is the share of the 64 connections that had a request waiting for its response, on
average (Little's law: requests/s x mean latency / connections). With keep-alive it is ~100%.
A server that closes every connection (uWSGI's --http-socket) is lower: wrk does not time the
reconnects, so that server's latency figures cover only the busy share of the connections.

    bench/run                                  hello and the Django view, lanner vs gunicorn vs uWSGI
    bench/run --targets static --servers lanner,nginx,gunicorn-whitenoise
    bench/run --passes 3                       medians of 3 passes
    bench/run --detail                         also the CPU per request of each part: the server's
                                               main process thread by thread, its children, wrk
Results: a markdown table on stdout, raw rows in $BENCH_OUT (default /tmp/lanner-bench).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = "/usr/bin/python3"
LANNER = os.environ.get("LANNER", str(ROOT / ".venv" / "bin" / "lanner"))
OUT = Path(os.environ.get("BENCH_OUT", "/tmp/lanner-bench"))
CONNECTIONS = 64
WRK = ["wrk", "-t2", f"-c{CONNECTIONS}", "-d8s", "--latency"]
WARM = ["wrk", "-t2", f"-c{CONNECTIONS}", "-d2s"]
HZ = os.sysconf("SC_CLK_TCK")

DEMO = OUT / "demo"  # a copy of examples/demo with its static files collected


class Target:
    def __init__(self, name: str, appdir: Path, app: str, path: str, expect: bytes, settings: str = "demo.settings"):
        self.name, self.appdir, self.app, self.path, self.expect, self.settings = name, appdir, app, path, expect, settings


def targets() -> dict[str, Target]:
    return {
        "hello": Target("hello", HERE / "apps", "wsgi_hello:app", "/", b"Hello, World!"),
        "dj-plain": Target("dj-plain", DEMO, "demo.wsgi:application", "/plain", b"Hello, World!"),
        "dj-template": Target("dj-template", DEMO, "demo.wsgi:application", "/template", b"Item 49"),
        "static": Target("static", DEMO, "demo.wsgi:application", "/static/admin/css/base.css", b"DJANGO Admin styles"),
    }


# ---- servers: each returns (command, environment additions, stop signal) ----------------------------

def srv_lanner(t: Target, port: int):
    cmd = [LANNER, "-b", f"127.0.0.1:{port}", "-w", "2"]
    if t.name == "static":
        cmd += ["--static", f"/static/={DEMO / 'staticfiles'}"]
    return cmd + [t.app], {}, signal.SIGTERM


def srv_gunicorn(t: Target, port: int):
    return [PY, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", t.app], {}, signal.SIGTERM


def srv_gunicorn_whitenoise(t: Target, port: int):
    return [PY, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", t.app], {"DJANGO_SETTINGS_MODULE": "demo.settings_whitenoise"}, signal.SIGTERM


def srv_uwsgi(t: Target, port: int):
    return ["/usr/bin/uwsgi", "--plugin", "python3", "--http-socket", f"127.0.0.1:{port}", "--master", "--processes", "2",
            "--disable-logging", "--need-app", "--module", t.app], {}, signal.SIGINT


def srv_nginx(t: Target, port: int):
    d = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    (d / "nginx.conf").write_text(f"""
daemon off;
master_process on;
worker_processes 2;
user root;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /static/ {{ alias {DEMO / 'staticfiles'}/; }}
    }}
}}
""")
    return ["/usr/sbin/nginx", "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")], {}, signal.SIGTERM


SERVERS = {
    "lanner": srv_lanner,
    "gunicorn": srv_gunicorn,
    "uwsgi": srv_uwsgi,
    "nginx": srv_nginx,
    "gunicorn-whitenoise": srv_gunicorn_whitenoise,
}


# ---- processes ---------------------------------------------------------------------------------------

def tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                rest = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if rest[0] != "Z":
                children.setdefault(int(rest[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory(root: int) -> tuple[float, float]:
    rss = pss = 0
    for p in tree(root):
        try:
            rss += int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{p}/status").read()).group(1))
            pss += int(re.search(r"Pss:\s+(\d+)", open(f"/proc/{p}/smaps_rollup").read()).group(1))
        except (OSError, AttributeError):
            pass
    return rss / 1024, pss / 1024


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            rest = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(rest[11]) + int(rest[12])
        except OSError:
            pass
    return total


def thread_cpu(pids: list[int]) -> dict[tuple[int, str], int]:
    """CPU time in ns of every thread of ``pids``, summed by (pid, thread name), from schedstat."""
    out: dict[tuple[int, str], int] = {}
    for p in pids:
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                name = open(f"/proc/{p}/task/{tid}/comm").read().strip()
                ns = int(open(f"/proc/{p}/task/{tid}/schedstat").read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            out[(p, name)] = out.get((p, name), 0) + ns
    return out


def cpu_parts(before: dict, after: dict, root: int, wrk_ns: int, requests: int) -> dict[str, float]:
    """µs of CPU per request: the main process's threads by name (those above 1 µs), its children, wrk."""
    parts: dict[str, float] = {"wrk": wrk_ns / 1000 / max(requests, 1)}
    for (pid, name), ns in after.items():
        used = ns - before.get((pid, name), 0)
        key = f"main: {name}" if pid == root else "children"
        parts[key] = parts.get(key, 0.0) + used / 1000 / max(requests, 1)
    small = sum(v for k, v in parts.items() if k.startswith("main: ") and v < 1.0)
    parts = {k: v for k, v in parts.items() if not (k.startswith("main: ") and v < 1.0)}
    if small >= 0.05:
        parts["main: other threads"] = small
    return parts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, sig: int) -> None:
    pids = tree(proc.pid)
    proc.send_signal(sig)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        pass
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


# ---- one configuration ---------------------------------------------------------------------------------

def parse_wrk(text: str) -> dict:
    def ms(v: str) -> float:
        m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", v)
        if m is None:
            raise RuntimeError(f"cannot read wrk latency {v!r} in:\n{text}")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    mean = ms(re.search(r"(?m)^\s+Latency\s+(\S+)", text).group(1))
    p50 = ms(re.search(r"(?m)^\s+50%\s+(\S+)", text).group(1))
    p99 = ms(re.search(r"(?m)^\s+99%\s+(\S+)", text).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
    errors = re.search(r"Socket errors: (.*)", text)
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    return {"rps": rps, "requests": requests, "busy": 100 * rps * mean / 1000 / CONNECTIONS, "p50": p50, "p99": p99, "non2xx": non2xx, "sockerr": errors.group(1) if errors else ""}


def run_one(server: str, target: Target, detail: bool = False) -> dict:
    port = free_port()
    cmd, extra_env, stop_sig = SERVERS[server](target, port)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": target.settings, **extra_env}
    OUT.mkdir(parents=True, exist_ok=True)
    log = open(OUT / f"{server}-{target.name}.log", "w")
    # The server stays in this session, as in the reference harness: with the kernel's autogroups
    # (sched_autogroup_enabled), a new session would be a scheduling group of its own, sharing the
    # CPU with wrk's group half and half. Its own process group keeps a Ctrl-C to this for us.
    proc = subprocess.Popen(cmd, cwd=target.appdir, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0)
    url = f"http://127.0.0.1:{port}{target.path}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                body = urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{server} did not answer {url}; see {OUT / (server + '-' + target.name + '.log')}")
                time.sleep(0.1)
        if target.expect not in body:
            raise RuntimeError(f"{server}: unexpected body from {url}: {body[:100]!r}")
        subprocess.run(WARM + [url], capture_output=True, check=True)
        time.sleep(1)
        rss, pss = memory(proc.pid)
        pids = tree(proc.pid)
        wall0, srv0 = time.monotonic(), cpu_ticks(pids)
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        threads0 = thread_cpu(pids) if detail else {}
        out = subprocess.run(WRK + [url], capture_output=True, text=True, check=True).stdout
        threads1 = thread_cpu(pids) if detail else {}
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, now reaped
        wrk_ns = int(1e9 * (children1.ru_utime + children1.ru_stime - children0.ru_utime - children0.ru_stime))
        wall, srv = time.monotonic() - wall0, cpu_ticks(pids) - srv0
        result = parse_wrk(out)
        result.update(rss=rss, pss=pss, cpu=100 * srv / HZ / wall)
        if detail:
            result["parts"] = cpu_parts(threads0, threads1, proc.pid, wrk_ns, result["requests"])
        return result
    finally:
        stop(proc, stop_sig)
        log.close()


def locked(fn, *args):
    with open("/tmp/bench.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return fn(*args)


def prepare_demo() -> None:
    """A copy of the demo site with collected static files (and precompressed copies, as a
    deployment that runs collectstatic with compression would have)."""
    if (DEMO / "staticfiles" / "admin" / "css" / "base.css").exists():
        return
    shutil.rmtree(DEMO, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "demo", DEMO, ignore=shutil.ignore_patterns("db.sqlite3", "staticfiles", "__pycache__"))
    # The peers' interpreter does not see the lanner package, so the copy leaves out the app that
    # only adds `manage.py lanner`: every server then runs the same site.
    settings = DEMO / "demo" / "settings.py"
    settings.write_text("".join(line for line in settings.read_text().splitlines(keepends=True) if '"lanner.django"' not in line))
    (DEMO / "demo" / "settings_whitenoise.py").write_text(
        "from demo.settings import *  # noqa\n"
        "MIDDLEWARE = ['django.middleware.security.SecurityMiddleware', 'whitenoise.middleware.WhiteNoiseMiddleware'] + MIDDLEWARE[1:]\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "demo.settings", "DEMO_STATIC_ROOT": str(DEMO / "staticfiles"),
           "DEMO_DATABASE": str(DEMO / "db.sqlite3")}
    for args in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run([PY, "manage.py", *args], cwd=DEMO, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="hello,dj-plain")
    parser.add_argument("--servers", default="lanner,gunicorn,uwsgi")
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--detail", action="store_true", help="the CPU per request of each part of the server, and of wrk")
    args = parser.parse_args()
    prepare_demo()
    os.environ.setdefault("DEMO_STATIC_ROOT", str(DEMO / "staticfiles"))
    os.environ.setdefault("DEMO_DATABASE", str(DEMO / "db.sqlite3"))
    all_targets = targets()
    names = [t.strip() for t in args.targets.split(",")]
    servers = [s.strip() for s in args.servers.split(",")]
    results: dict[tuple[str, str], list[dict]] = {}
    for p in range(args.passes):
        for name in names:
            for server in servers:
                r = locked(run_one, server, all_targets[name], args.detail)
                results.setdefault((name, server), []).append(r)
                print(f"[pass {p + 1}] {name:12s} {server:20s} {r['rps']:9.0f} rps  p50 {r['p50']:6.2f} ms  "
                      f"p99 {r['p99']:6.2f} ms  busy {r['busy']:4.0f}%  rss {r['rss']:6.1f} MB  cpu {r['cpu']:5.0f}%"
                      + (f"  NON2XX={r['non2xx']}" if r["non2xx"] else "") + (f"  SOCKERR {r['sockerr']}" if r["sockerr"] else ""),
                      file=sys.stderr, flush=True)
                if args.detail:
                    print("         CPU per request: " + ", ".join(f"{k} {v:.1f} µs" for k, v in sorted(r["parts"].items(), key=lambda kv: -kv[1])),
                          file=sys.stderr, flush=True)
    print()
    print(f"wrk: {' '.join(WRK)} (after a 2 s warm-up); medians of {args.passes} pass(es)")
    print()
    if args.detail:
        print("CPU per request in µs (medians): the server's main process thread by thread, its children, wrk")
        for name in names:
            for srv in servers:
                runs = results[(name, srv)]
                keys = {k for r in runs for k in r["parts"]}
                parts = {k: statistics.median(r["parts"].get(k, 0.0) for r in runs) for k in keys}
                print(f"- {name} {srv}: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])))
        print()
    print("| target | server | requests/s | p50 ms | p99 ms | busy | RSS MB | PSS MB | lanner × |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        med = {s: {k: statistics.median(r[k] for r in results[(name, s)]) for k in ("rps", "p50", "p99", "busy", "rss", "pss")}
               for s in servers}
        base = med.get("lanner", {}).get("rps")
        for s in servers:
            m = med[s]
            ratio = f"{base / m['rps']:.2f}" if base and s != "lanner" else ""
            print(f"| {name} | {s} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['busy']:.0f}% | {m['rss']:.0f} | {m['pss']:.0f} | {ratio} |")


if __name__ == "__main__":
    main()
