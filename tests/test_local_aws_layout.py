"""local_aws's package layout, read from the sources' ASTs: no import cycle in localaws/, nothing imports the
entry point, every patch is installed from localaws.server.INSTALLERS and S3 is patched in one module."""

import ast
import graphlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "localaws"
MODULES = {f"localaws.{path.stem}" if path.stem != "__init__" else "localaws": path
           for path in sorted(PACKAGE.glob("*.py"))}
S3_CLASSES = {"S3Response", "S3Backend", "FakeBucket", "FakeKey"}


def imported_modules(path):
    """Every module a source file imports, at its top or inside a function (a late import still ties two
    modules together), with `from localaws import x` naming the module localaws.x when there is one."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names
                      if f"{node.module}.{alias.name}" in MODULES}
    return found


def import_graph():
    """localaws module -> the localaws modules it imports (the package itself left out: it imports nothing)."""
    return {name: {m for m in imported_modules(path) if m in MODULES and m not in (name, "localaws")}
            for name, path in MODULES.items()}


def test_localaws_imports_form_no_cycle():
    graph = import_graph()
    assert "localaws.cognito_tokens" in graph["localaws.cognito_devices"], "the graph read no edges: the test is blind"
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle in localaws/: {' -> '.join(error.args[1])}")
    assert set(order) == set(MODULES)


def test_cognito_tokens_and_devices_share_records_through_a_leaf_module():
    graph = import_graph()
    assert graph["localaws.cognito_records"] == set(), "cognito_records must stay a leaf"
    assert "localaws.cognito_devices" not in graph["localaws.cognito_tokens"]
    assert "localaws.cognito_records" in graph["localaws.cognito_tokens"] & graph["localaws.cognito_devices"]


def test_nothing_imports_the_entry_point():
    sources = [*MODULES.values(), ROOT / "cog_auth_s3.py", *ROOT.glob("tests/*.py"), *ROOT.glob("scripts/*.py"),
               *ROOT.glob("bench/*.py")]
    importers = [str(path.relative_to(ROOT)) for path in sources
                 if any(m == "local_aws" or m.startswith("local_aws.") for m in imported_modules(path))]
    assert importers == []
    assert "localaws.server" in imported_modules(ROOT / "local_aws.py"), "local_aws.py no longer serves localaws"


def install_calls(path):
    """Names of the modules whose install() a source file calls (`x.install()`)."""
    return {node.func.value.id for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "install"
            and isinstance(node.func.value, ast.Name)}


def test_every_installer_is_listed_once_in_server_installers_and_called_nowhere_else():
    sys.path.insert(0, str(ROOT))  # the tests' working directory need not be the repository
    from localaws import server

    listed = [install.__module__ for install, why in server.INSTALLERS if install.__name__ == "install"]
    assert all(why.strip() for _, why in server.INSTALLERS), "every installer says why it stands where it does"
    assert sorted(listed) == sorted(set(listed)), "an installer is listed twice"
    defining = {name for name, path in MODULES.items()
                if any(isinstance(node, ast.FunctionDef) and node.name == "install"
                       for node in ast.parse(path.read_text()).body)}
    assert set(listed) == defining
    callers = {name: calls for name, path in MODULES.items() if (calls := install_calls(path))}
    assert callers == {}, "installers call one another; list them in localaws.server.INSTALLERS instead"


def test_s3_is_patched_in_localaws_s3_only():
    patching = set()
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                        and target.value.id in S3_CLASSES:
                    patching.add(name)
    assert patching == {"localaws.s3"}
