"""Run the README's local walk-through exactly as written, and fail on the first command that fails.

Usage: python scripts/walkthrough.py [--readme PATH] [--keep]

The walk-through is every ```console block that follows an HTML comment `<!-- walkthrough -->`
in README.md. In such a block a line starting with `$ ` is a command; every other line is the
output a real run printed, shown for the reader and not compared here (identity ids, keys and
tokens differ from run to run). Commands must fit on one line.

The commands run one by one in one bash (`set -euo pipefail`), so a failing command ends the run
with its exit code and the command echoed last is the one that failed. They run as a reader runs
them in a fresh clone:
- the working directory is a copy of the files git tracks here (or of the checkout, without git);
- `python` is this Python (it has the pinned requirements-dev.txt: moto, awscli) and
  `cog-auth-s3` runs the copy's cog_auth_s3.py, as `pip install .` would install it;
- HOME is an empty folder (so the cache and ~/.aws/config start empty), and no AWS_* or
  COG_AUTH_S3_* variable of the caller's environment reaches the commands: nothing can touch a
  real AWS account.
Whatever the commands leave running (local_aws) is stopped at the end, and the whole run is
bounded in time. The temporary folder is removed after a successful run unless --keep.
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "<!-- walkthrough -->"
PROMPT = "$ "
TIME_LIMIT = 300  # seconds for the whole walk-through; it takes well under a minute on a quiet machine


def walkthrough_commands(text):
    """The commands of every walk-through block in a README's text, in order."""
    commands = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        rest = iter(lines[index + 1:])
        fence = next((candidate for candidate in rest if candidate.strip()), "")
        if not re.fullmatch(r"```console\s*", fence):
            raise SystemExit(f"walkthrough: {MARKER} on line {index + 1} is not followed by a ```console block")
        for body in rest:
            if body.startswith("```"):
                break
            if body.startswith(PROMPT):
                command = body[len(PROMPT):]
                if command.rstrip().endswith("\\"):
                    raise SystemExit(f"walkthrough: a command must fit on one line: {body}")
                commands.append(command)
        else:
            raise SystemExit(f"walkthrough: the block after line {index + 1} never ends")
    if not commands:
        raise SystemExit(f"walkthrough: no command found after any {MARKER}")
    return commands


def fresh_clone(destination):
    """Copy what a fresh clone holds (the files git tracks, as they are now) into destination."""
    try:
        listed = subprocess.run(["git", "-C", HERE, "ls-files", "-z"], check=True, capture_output=True).stdout
        names = [name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = None
    if names is None:  # not a git checkout (an unpacked archive): everything but what builds and runs leave
        shutil.copytree(HERE, destination, ignore=shutil.ignore_patterns(
            ".git", ".venv", "demo", "__pycache__", ".pytest_cache", "*.egg-info", "build", "config.ini"))
        return
    for name in names:
        source = os.path.join(HERE, name)
        if os.path.isfile(source):  # a tracked file deleted in the working tree is not copied
            os.makedirs(os.path.dirname(os.path.join(destination, name)), exist_ok=True)
            shutil.copy2(source, os.path.join(destination, name))


def install_commands(bin_dir, clone):
    """Put `python` (this Python) and `cog-auth-s3` (the clone's module) into bin_dir."""
    os.makedirs(bin_dir)
    scripts = {
        "python": f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n',
        # The same as pip's console script for cog-auth-s3, importing the clone's module.
        "cog-auth-s3": f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {clone!r})\n"
                       f"from cog_auth_s3 import main\nsys.exit(main())\n",
    }
    for name, text in scripts.items():
        path = os.path.join(bin_dir, name)
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o755)


def reader_environment(root, bin_dir):
    """The environment of a reader with a new account: nothing of AWS or of this tool set."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "COG_AUTH_S3_", "XDG_", "PYTHON"))}
    home = os.path.join(root, "home")
    os.makedirs(home)
    # This Python's folder holds the tools the venv installed next to it (aws).
    env.update(HOME=home, PYTHONUNBUFFERED="1",
               PATH=os.pathsep.join([bin_dir, os.path.dirname(sys.executable), env.get("PATH", "")]))
    return env


def bash_script(commands):
    """One bash script that echoes each command, as the README shows it, then runs it."""
    lines = ["set -euo pipefail"]
    for command in commands:
        lines.append(f"printf '\\n%s\\n' {shlex.quote(PROMPT + command)}")
        lines.append(command)
    return "\n".join(lines) + "\n"


def run(commands, root):
    """Run the commands in a fresh clone under root; return bash's exit code."""
    clone = os.path.join(root, "cog-auth-s3")
    fresh_clone(clone)
    bin_dir = os.path.join(root, "bin")
    install_commands(bin_dir, clone)
    env = reader_environment(root, bin_dir)
    # A session of its own, so that local_aws, started with & in the walk-through, is stopped with it.
    process = subprocess.Popen(["bash", "-c", bash_script(commands)], cwd=clone, env=env,
                               stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        code = process.wait(timeout=TIME_LIMIT)
    except subprocess.TimeoutExpired:
        print(f"\nwalkthrough: still running after {TIME_LIMIT} s; stopped", file=sys.stderr)
        code = 124
    except KeyboardInterrupt:
        code = 130
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        process.wait()
    return code


def main(argv=None):
    """Run the README's walk-through and report whether every command succeeded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", default=os.path.join(HERE, "README.md"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    with open(args.readme, encoding="utf-8") as handle:
        commands = walkthrough_commands(handle.read())
    root = tempfile.mkdtemp(prefix="walkthrough-")
    print(f"walkthrough: {len(commands)} commands from {args.readme}, run in {root}/cog-auth-s3")
    code = run(commands, root)
    if code == 0:
        print(f"\nwalkthrough: all {len(commands)} commands ran as written")
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        return 0
    print(f"\nwalkthrough: FAILED with exit {code} at the last command shown; its folder is kept: {root}",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
