"""sync up checks each file as put does, never deletes the remote copy of a path it skipped, and names a file
whose name is not UTF-8 (put too)."""

import os
import shutil
import subprocess

import pytest

from helpers import TOOL_COMMAND, identity, random_file, remote, user_env, wait_for, without_root_file_access


def test_a_file_rewritten_during_its_multipart_upload_by_sync_up_exits_2_and_the_next_sync_uploads_it(
        start, files, tmp_path, request_log, faults, prefix):
    tree = tmp_path / "tree"
    tree.mkdir()
    big = random_file(tree / "big.bin", 20 * 1024 * 1024)
    identity(files)
    faults.add("CreateMultipartUpload", times=1, action="delay", delay_ms=2000)
    request_log.clear()
    proc = start("sync", "up", tree, prefix)
    wait_for(request_log, "CreateMultipartUpload", proc)
    with open(big, "r+b") as handle:  # rewritten in place: same size, new bytes, new mtime
        handle.write(os.urandom(1024 * 1024))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, out + err
    assert f"{big} changed while it was being uploaded" in err, err
    assert "0 uploaded" not in err and "1 uploaded" not in err
    again = files("sync", "up", tree, prefix, "--dryrun")
    assert again.returncode == 0 and f"upload: {big}" in again.stdout, again.stdout + again.stderr


def test_a_folder_that_became_a_symlink_keeps_its_remote_copies_under_delete(files, tmp_path, prefix):
    tree = tmp_path / "tree"
    (tree / "photos").mkdir(parents=True)
    (tree / "photos" / "a.jpg").write_text("a photo")
    for name in ("gone.txt", "photos-x.txt", "photos.txt"):  # around photos/ in S3's key order
        (tree / name).write_text("deleted locally")
    assert files("sync", "up", tree, prefix).returncode == 0
    shutil.move(tree / "photos", tmp_path / "photos-elsewhere")
    (tree / "photos").symlink_to(tmp_path / "photos-elsewhere")
    for name in ("gone.txt", "photos-x.txt", "photos.txt"):
        os.unlink(tree / name)
    dry = files("sync", "up", tree, prefix, "--delete", "--dryrun")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("delete: ") == 3 and "photos/a.jpg" not in dry.stdout, dry.stdout
    real = files("sync", "up", tree, prefix, "--delete")
    assert real.returncode == 0, real.stderr
    assert remote(files, prefix) == {"photos/a.jpg": 7}


def test_sync_down_never_writes_through_a_link_in_the_destination(files, tmp_path, prefix):
    source = tmp_path / "source"
    (source / "photos").mkdir(parents=True)
    (source / "photos" / "a.jpg").write_text("a photo")
    (source / "b.txt").write_text("b")
    assert files("sync", "up", source, prefix).returncode == 0
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "photos").symlink_to(outside)  # could as well point at ~/.ssh
    result = files("sync", "down", prefix, dest)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "photos/a.jpg was not downloaded" in result.stderr, result.stderr
    assert list(outside.iterdir()) == [] and (dest / "b.txt").read_text() == "b"


def test_unreadable_and_special_paths_are_skipped_their_remote_copies_kept_and_sync_exits_2(
        files, tmp_path, prefix):
    tree = tmp_path / "tree"
    (tree / "locked").mkdir(parents=True)
    for name in ("locked/x.txt", "secret.txt", "pipe", "ok.txt"):
        (tree / name).write_text(name)
    assert files("sync", "up", tree, prefix).returncode == 0
    os.chmod(tree / "secret.txt", 0)
    os.chmod(tree / "locked", 0)
    os.unlink(tree / "pipe")
    os.mkfifo(tree / "pipe")
    (tree / "new.txt").write_text("new")
    try:
        result = subprocess.run([*TOOL_COMMAND, "--config", str(files.config), "sync", "up", str(tree),
                                 prefix, "--delete"], env=user_env(tmp_path), cwd=tmp_path, capture_output=True,
                                text=True, timeout=120, preexec_fn=without_root_file_access)
    finally:
        os.chmod(tree / "locked", 0o755)
        os.chmod(tree / "secret.txt", 0o644)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for name in ("secret.txt", "locked", "pipe"):
        assert f"skipped {tree / name}" in result.stderr, result.stderr
    assert "3 paths were skipped" in result.stderr.splitlines()[-1], result.stderr
    assert set(remote(files, prefix)) == {"locked/x.txt", "secret.txt", "pipe", "ok.txt", "new.txt"}


NOT_UTF8 = b"caf\xe9.txt"


@pytest.fixture
def odd_tree(tmp_path):
    """A folder holding a file whose name is not UTF-8 (Latin-1 é), and a normal one."""
    tree = tmp_path / "odd"
    tree.mkdir()
    with open(os.path.join(os.fsencode(tree), NOT_UTF8), "wb") as handle:
        handle.write(b"latin-1 name")
    (tree / "fine.txt").write_text("fine")
    return tree


@pytest.mark.parametrize("how", ["put", "put --recursive", "sync up"])
def test_a_file_name_that_is_not_utf8_is_exit_2_naming_the_file(files, odd_tree, prefix, how):
    odd = os.fsdecode(os.path.join(os.fsencode(odd_tree), NOT_UTF8))
    args = {"put": ["put", odd], "put --recursive": ["put", odd_tree, "--recursive", "--key", prefix],
            "sync up": ["sync", "up", odd_tree, prefix]}[how]
    result = files(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "UnicodeEncodeError" not in result.stderr
    assert "caf\\xe9.txt" in result.stderr and "UTF-8" in result.stderr, result.stderr
    if how == "sync up":
        assert remote(files, prefix) == {"fine.txt": 4}  # the rest is synced
