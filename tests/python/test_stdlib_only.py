"""The worker runs in the user's environment: it may import only the standard library."""

import subprocess
import sys

from workerkit import ROOT

CHECK = r"""
import sys
before = set(sys.modules)
import lanner.worker.main, lanner.worker.wsgi, lanner.worker.connection, lanner.worker.appload, lanner._launcher
added = sorted(set(sys.modules) - before)
foreign = [m for m in added if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "lanner"]
print("\n".join(foreign))
"""


def test_worker_imports_only_the_standard_library():
    # -I: isolated (no user site, no PYTHONPATH); -S: not even site-packages.
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {str(ROOT / 'python')!r})\n" + CHECK],
        capture_output=True, text=True, check=True,
    )
    assert result.stdout.strip() == "", f"non-stdlib modules imported: {result.stdout}"
