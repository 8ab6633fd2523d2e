"""``lanner check``: load the app the way a worker would, then exit (0: it loads; 3: it does not).

Once the app is loaded it prints "{APP_MODULE} loads: {module}.{name}": the master's check
(AppCheck.cs) takes only that line as proof, not the exit code, which any program can return.
"""

from __future__ import annotations

import json
import os
import sys

from lanner.worker.appload import AppLoadError, load_app


def main() -> None:
    config = json.loads(sys.argv[1])
    if config.get("chdir"):
        os.chdir(config["chdir"])
    sys.path.insert(0, os.getcwd())
    for i, extra in enumerate(config.get("pythonpath", [])):
        sys.path.insert(i, extra)
    os.environ.update(config.get("env", {}))
    try:
        app = load_app(config["app"])
    except AppLoadError as exc:
        if exc.traceback:
            sys.stderr.write(exc.traceback)
        sys.stderr.write(f"{exc}\n")
        sys.exit(3)
    module = getattr(app, "__module__", None) or type(app).__module__
    name = getattr(app, "__qualname__", None) or type(app).__qualname__ + " instance"
    print(f"{config['app']} loads: {module}.{name}", flush=True)


if __name__ == "__main__":
    main()
