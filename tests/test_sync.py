"""sync up/down, get --recursive and rm --recursive, through the CLI on local_aws."""

import json
import os
import pty
import subprocess

from helpers import TOOL_COMMAND, remote, user_env

TREE = {"a.txt": "alpha", "a-b.txt": "dash sorts before slash", "a/b.txt": "in a folder", "a/c/d.txt": "deeper",
        "z.txt": "last"}


def make_tree(root, tree=TREE):
    for relative, text in tree.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def read_tree(root):
    """{relative path: text} of every file below root."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root).replace(os.sep, "/")] = open(path).read()
    return found


def s3_ops(request_log, *names):
    return [op for op in request_log.operations("s3") if op in names]


def test_sync_round_trip_then_a_second_sync_transfers_nothing(files, tmp_path, prefix, request_log):
    source = make_tree(tmp_path / "src")
    up = files("sync", "up", source, prefix)
    assert up.returncode == 0, up.stderr
    assert remote(files, prefix) == {k: len(v) for k, v in TREE.items()}
    assert up.stdout.count("upload: ") == len(TREE)

    request_log.clear()
    again = files("sync", "up", source, prefix)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "" and "0 uploaded" in again.stderr
    assert s3_ops(request_log, "PutObject", "CreateMultipartUpload", "DeleteObjects") == []
    assert "ListObjectsV2" in request_log.operations("s3")

    down = files("sync", "down", prefix, tmp_path / "copy")
    assert down.returncode == 0, down.stderr
    assert read_tree(tmp_path / "copy") == TREE
    request_log.clear()
    again = files("sync", "down", prefix, tmp_path / "copy")
    assert again.returncode == 0 and again.stdout == "", again.stderr
    assert s3_ops(request_log, "GetObject", "HeadObject") == []


def test_sync_delete_removes_what_the_source_lacks_on_each_side(files, tmp_path, prefix):
    source = make_tree(tmp_path / "src")
    assert files("sync", "up", source, prefix).returncode == 0
    assert files("sync", "down", prefix, tmp_path / "copy").returncode == 0
    (source / "a" / "b.txt").unlink()
    (source / "new.txt").write_text("new")
    kept = files("sync", "up", source, prefix)  # without --delete nothing is removed
    assert kept.returncode == 0 and "a/b.txt" in remote(files, prefix)
    up = files("sync", "up", source, prefix, "--delete")
    assert up.returncode == 0, up.stderr
    assert "delete: s3://" in up.stdout and "a/b.txt" not in remote(files, prefix)
    (tmp_path / "copy" / "stray.txt").write_text("only here")
    down = files("sync", "down", prefix, tmp_path / "copy", "--delete")
    assert down.returncode == 0, down.stderr
    expected = {k: v for k, v in TREE.items() if k != "a/b.txt"} | {"new.txt": "new"}
    assert read_tree(tmp_path / "copy") == expected


def test_dryrun_prints_the_plan_and_changes_nothing(files, tmp_path, prefix, request_log):
    source = make_tree(tmp_path / "src")
    assert files("sync", "up", source, prefix).returncode == 0
    (source / "z.txt").write_text("changed size")
    (source / "a.txt").unlink()
    request_log.clear()
    plan = files("sync", "up", source, prefix, "--delete", "--dryrun")
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    assert all(line.startswith("(dryrun) ") for line in lines) and len(lines) == 2
    assert any("upload:" in line and "z.txt" in line for line in lines)
    assert any("delete:" in line and line.endswith(f"{prefix}/a.txt") for line in lines)
    assert s3_ops(request_log, "PutObject", "DeleteObjects", "DeleteObject") == []
    assert remote(files, prefix)["z.txt"] == len(TREE["z.txt"]) and "a.txt" in remote(files, prefix)
    down = files("sync", "down", prefix, tmp_path / "never", "--dryrun")
    assert down.returncode == 0 and not (tmp_path / "never").exists()


def test_checksum_finds_a_same_size_change_that_times_miss(files, tmp_path, prefix):
    source = make_tree(tmp_path / "src")
    # Multipart (two 8 MiB parts): its ETag is not an MD5, and --checksum must still see it unchanged.
    (source / "big.bin").write_bytes(os.urandom(9 * 1024 * 1024))
    assert files("sync", "up", source, prefix).returncode == 0
    assert files("sync", "down", prefix, tmp_path / "copy").returncode == 0
    changed = tmp_path / "copy" / "a.txt"
    stamp = os.stat(changed).st_mtime
    changed.write_text("ALPHA")  # same size, and back-dated to the object's time: only content differs
    os.utime(changed, (stamp, stamp))
    by_time = files("sync", "down", prefix, tmp_path / "copy")
    assert by_time.returncode == 0 and by_time.stdout == "" and changed.read_text() == "ALPHA"
    by_content = files("sync", "down", prefix, tmp_path / "copy", "--checksum")
    assert by_content.returncode == 0, by_content.stderr
    assert by_content.stdout.count("download: ") == 1 and changed.read_text() == "alpha"
    same = files("sync", "up", source, prefix, "--checksum")
    assert same.returncode == 0 and same.stdout == ""


def test_a_sync_that_fails_halfway_leaves_whole_objects_and_a_second_run_finishes(files, tmp_path, prefix,
                                                                                  faults, request_log):
    tree = {f"f{i:02d}.txt": f"file {i} " * (i + 1) for i in range(20)}
    source = make_tree(tmp_path / "src", tree)
    faults.add("PutObject", skip=5)  # the sixth upload and every one after it fail (retries too)
    first = files("sync", "up", source, prefix)
    assert first.returncode == 4, first.stderr
    assert first.stderr.startswith("cog-auth-s3: error: ") and first.stderr.count("\n") == 1
    stored = remote(files, prefix)
    assert 0 < len(stored) < len(tree)
    assert all(stored[k] == len(tree[k]) for k in stored)  # whole objects only
    faults.clear()
    request_log.clear()
    second = files("sync", "up", source, prefix)
    assert second.returncode == 0, second.stderr
    assert remote(files, prefix) == {k: len(v) for k, v in tree.items()}
    assert len(s3_ops(request_log, "PutObject")) == len(tree) - len(stored)


def test_an_interrupted_download_leaves_no_half_written_file(files, tmp_path, prefix, faults):
    tree = {f"f{i:02d}.txt": f"file {i} " * (i + 1) for i in range(20)}
    assert files("sync", "up", make_tree(tmp_path / "src", tree), prefix).returncode == 0
    faults.add("GetObject", skip=5)
    first = files("sync", "down", prefix, tmp_path / "copy")
    assert first.returncode == 4, first.stderr
    partial = read_tree(tmp_path / "copy")
    assert 0 < len(partial) < len(tree) and all(tree[k] == v for k, v in partial.items())
    faults.clear()
    second = files("sync", "down", prefix, tmp_path / "copy")
    assert second.returncode == 0, second.stderr
    assert read_tree(tmp_path / "copy") == tree
    assert second.stdout.count("download: ") == len(tree) - len(partial)


def test_sync_lists_through_the_prefix_and_never_leaves_the_folder(files, tmp_path, prefix, request_log, stack):
    source = make_tree(tmp_path / "src")
    outside = files("sync", "up", source, f"s3://{stack['bucket']}/us-east-1:99999999-2222-3333-4444-555555555555/")
    assert outside.returncode == 2 and "outside your folder" in outside.stderr
    assert files("sync", "up", source, "../x").returncode == 2
    request_log.clear()
    assert files("sync", "down", prefix, tmp_path / "empty").returncode == 0
    # The stack's role allows listing only with a prefix inside alice's folder: every listing passed it.
    statuses = [e["status"] for e in request_log.entries() if e["operation"] == "ListObjectsV2"]
    assert statuses and set(statuses) == {200}


def test_get_and_rm_recursive_round_trip(files, tmp_path, prefix, request_log):
    assert files("sync", "up", make_tree(tmp_path / "src"), prefix).returncode == 0
    request_log.clear()
    got = files("get", "--recursive", prefix, tmp_path / "dest")  # the folder is made as files arrive
    assert got.returncode == 0, got.stderr
    assert read_tree(tmp_path / "dest") == TREE
    # The listing gives each size, so one GetObject per object and no HeadObject.
    assert sorted(s3_ops(request_log, "GetObject", "HeadObject")) == ["GetObject"] * len(TREE)
    no_terminal = files("rm", "--recursive", prefix)
    assert no_terminal.returncode == 2 and "--force" in no_terminal.stderr
    assert len(remote(files, prefix)) == len(TREE)
    gone = files("rm", "--recursive", prefix, "--force")
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.count("deleted s3://") == len(TREE)
    assert remote(files, prefix) == {}


def test_rm_recursive_takes_a_folder_not_a_name_prefix(files, tmp_path, prefix):
    make_tree(tmp_path / "src", {"keep/x.txt": "x", "keep2/y.txt": "y"})
    assert files("sync", "up", tmp_path / "src", prefix).returncode == 0
    assert files("rm", "--recursive", f"{prefix}/keep", "--force").returncode == 0
    assert remote(files, prefix) == {"keep2/y.txt": 1}


def test_rm_recursive_asks_on_a_terminal(user_config, tmp_path, prefix, cli):
    config = user_config()
    make_tree(tmp_path / "src", {"x.txt": "x"})
    assert cli("--config", config, "sync", "up", tmp_path / "src", prefix).returncode == 0
    env = user_env(tmp_path)
    for answer, left in ((b"n\n", 1), (b"y\n", 0)):
        leader, follower = pty.openpty()
        proc = subprocess.Popen([*TOOL_COMMAND, "--config", str(config), "rm", "--recursive", prefix],
                                stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
        os.close(follower)
        os.write(leader, answer)
        _, err = proc.communicate(timeout=60)
        os.close(leader)
        assert proc.returncode == 0 and b"[y/N]" in err, err
        listing = json.loads(cli("--config", config, "--json", "ls", prefix + "/").stdout)["objects"]
        assert len(listing) == left
