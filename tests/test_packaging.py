"""The package a user installs: one module, one command, only the runtime dependencies."""

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile

from helpers import ROOT


def test_pyproject_and_requirements_name_the_same_runtime_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert sorted(project["dependencies"]) == sorted(listed)


def test_the_wheel_holds_one_module_and_the_command_and_requires_only_boto3_and_pycognito(tmp_path):
    # Built from a copy: setuptools writes build/ and *.egg-info into the tree it builds, which another copy of the
    # suite (or an xdist worker) may be building at the same moment.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "cog_auth_s3.py"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("cog_auth_s3-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("/METADATA"))).decode()
        entry_points = archive.read(next(n for n in names if n.endswith("/entry_points.txt"))).decode()
    assert [n for n in names if not n.startswith("cog_auth_s3-")] == ["cog_auth_s3.py"]
    requires = re.findall(r"^Requires-Dist: ([\w-]+)(.*)$", metadata, re.M)
    assert sorted(name for name, extra in requires if "extra ==" not in extra) == ["boto3", "pycognito"]
    assert [name for name, extra in requires if "extra == \"progress\"" in extra] == ["tqdm"]
    assert "cog-auth-s3 = cog_auth_s3:main" in entry_points
    import cog_auth_s3

    assert f"Version: {cog_auth_s3.__version__}\n" in metadata  # the version lives in cog_auth_s3.py only
