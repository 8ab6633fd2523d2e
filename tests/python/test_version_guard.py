"""The version guard of lanner/worker/__main__.py: one clear line and exit 6 on a Python older than
3.9, run before any module with newer syntax is imported, so it must itself parse on old Pythons."""

import ast
import subprocess
import sys

import pytest

from workerkit import ROOT

import lanner.worker.__main__ as guard

GUARD_FILE = ROOT / "python" / "lanner" / "worker" / "__main__.py"


@pytest.mark.parametrize("version, text", [
    ((3, 6, 15, "final", 0), "3.6.15"),
    ((3, 8, 18, "final", 0), "3.8.18"),
    ((2, 7, 18, "final", 0), "2.7.18"),
])
def test_an_old_python_gets_one_line_naming_both_versions(version, text):
    assert guard.python_too_old(version, "/usr/bin/python3.6") == \
        f"lanner: the workers need Python 3.9 or newer; /usr/bin/python3.6 is {text}"


@pytest.mark.parametrize("version", [(3, 9, 0, "final", 0), (3, 11, 2, "final", 0), (3, 14, 0, "alpha", 1), (4, 0, 0)])
def test_3_9_and_newer_pass(version):
    assert guard.python_too_old(version, "/usr/bin/python3") is None


def test_this_python_passes_and_is_the_default():
    assert guard.python_too_old() is None
    guard.require_python()  # returns


def test_require_python_exits_6_with_the_line_on_stderr(capsys):
    with pytest.raises(SystemExit) as exited:
        guard.require_python((3, 6, 15, "final", 0), "/opt/py36/bin/python3")
    assert exited.value.code == guard.EXIT_OLD_PYTHON == 6
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "lanner: the workers need Python 3.9 or newer; /opt/py36/bin/python3 is 3.6.15\n"


def test_the_guard_module_parses_on_old_pythons():
    source = GUARD_FILE.read_text()
    # f-strings (3.6), := (3.8) and the like are refused by the parser at this feature version.
    tree = ast.parse(source, feature_version=(3, 4))
    for node in ast.walk(tree):
        assert not isinstance(node, ast.ImportFrom) or node.module != "__future__", \
            "a __future__ import that an old Python does not know is a SyntaxError there"
        assert not isinstance(node, (ast.AnnAssign, ast.JoinedStr, ast.NamedExpr, ast.AsyncFunctionDef))
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            args = node.args
            assert not args.kwonlyargs and not getattr(args, "posonlyargs", [])
            assert all(a.annotation is None for a in args.args + [x for x in (args.vararg, args.kwarg) if x])
            assert getattr(node, "returns", None) is None
        if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and node.col_offset == 0):
            # At module level only the standard library; the worker itself is imported after the guard ran.
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert all(not name.startswith("lanner") for name in names), names


def _run_as_python_3_6(code: str) -> subprocess.CompletedProcess:
    """Runs ``code`` in this interpreter with sys.version_info made to look like 3.6.15."""
    fake = (
        "import collections, sys\n"
        "sys.version_info = collections.namedtuple('version_info', 'major minor micro releaselevel serial')(3, 6, 15, 'final', 0)\n"
        f"sys.path.insert(0, {str(ROOT / 'python')!r})\n"
    )
    return subprocess.run([sys.executable, "-c", fake + code], capture_output=True, text=True, timeout=30)


def test_python_m_lanner_worker_runs_the_guard_before_the_worker():
    result = _run_as_python_3_6(
        "import atexit, runpy\n"
        "atexit.register(lambda: print('worker imported:', 'lanner.worker.main' in sys.modules))\n"
        "runpy.run_module('lanner.worker', run_name='__main__', alter_sys=True)\n")
    assert result.returncode == 6, result.stderr
    assert result.stderr == f"lanner: the workers need Python 3.9 or newer; {sys.executable} is 3.6.15\n"
    # Not imported: on a real 3.6 its `from __future__ import annotations` is the SyntaxError.
    assert result.stdout == "worker imported: False\n"


def test_python_m_lanner_worker_on_a_new_python_goes_on_to_the_worker():
    result = subprocess.run([sys.executable, "-m", "lanner.worker"], cwd=ROOT / "python", capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "lanner.worker is started by the lanner master, not by hand." in result.stderr
