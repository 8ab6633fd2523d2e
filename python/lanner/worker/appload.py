"""Find the app named by APP_MODULE, with gunicorn's syntax.

``module:name``     the attribute ``name`` of ``module`` (dotted attribute paths allowed)
``module``          ``application``, then ``app``
``module:f()``      the result of calling the factory ``f`` (literal arguments allowed:
                    ``module:create_app('prod', debug=False)``)
"""

from __future__ import annotations

import ast
import importlib
import sys
import traceback
from typing import Any, Callable


class AppLoadError(Exception):
    """The app could not be loaded; ``str()`` is the one line an operator reads."""

    def __init__(self, message: str, tb: str = "") -> None:
        super().__init__(message)
        self.traceback = tb


def parse_app_spec(spec: str) -> tuple[str, str | None, tuple, dict, bool]:
    """Split ``module:expr`` into (module, attribute path, args, kwargs, is_call)."""
    if not spec or spec.strip() != spec:
        raise AppLoadError(f"Invalid APP_MODULE {spec!r}: expected 'module' or 'module:callable'")
    module, sep, expr = spec.partition(":")
    if not module or not all(part.isidentifier() for part in module.split(".")):
        raise AppLoadError(f"Invalid APP_MODULE {spec!r}: {module!r} is not a module name")
    if not sep:
        return module, None, (), {}, False
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        raise AppLoadError(f"Failed to parse {expr!r} as an attribute name or function call.") from None
    args: tuple = ()
    kwargs: dict = {}
    is_call = False
    if isinstance(node, ast.Call):
        is_call = True
        try:
            args = tuple(ast.literal_eval(a) for a in node.args)
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
        except ValueError:
            raise AppLoadError(f"Failed to parse arguments as literal values: {expr!r}.") from None
        if any(kw.arg is None for kw in node.keywords):
            raise AppLoadError(f"Failed to parse arguments as literal values: {expr!r}.")
        node = node.func
    path = _attribute_path(node)
    if path is None:
        raise AppLoadError(f"Failed to parse {expr!r} as an attribute name or function call.")
    return module, path, args, kwargs, is_call


def _attribute_path(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _attribute_path(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def load_app(spec: str) -> Callable[..., Any]:
    """Import the module and return the app; raise AppLoadError with a clear message otherwise."""
    module_name, path, args, kwargs, is_call = parse_app_spec(spec)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AppLoadError(
                f"Failed to find application module {module_name!r}: no module named {exc.name!r} "
                f"(sys.path: {', '.join(p or '.' for p in sys.path[:4])}, ...)",
                "",
            ) from None
        raise AppLoadError(f"Failed to import {module_name!r}: {exc}", traceback.format_exc()) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the app's own import-time failure (SystemExit included): show its traceback
        raise AppLoadError(f"Failed to import {module_name!r}: {type(exc).__name__}: {exc}", traceback.format_exc()) from None

    names = [path] if path is not None else ["application", "app"]
    for name in names:
        obj: Any = module
        try:
            for part in name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        break
    else:
        tried = " or ".join(repr(n) for n in names)
        raise AppLoadError(f"Failed to find attribute {tried} in {module_name!r}.")

    if is_call:
        if not callable(obj):
            raise AppLoadError(f"{name!r} in {module_name!r} is not callable, so it cannot be a factory.")
        try:
            obj = obj(*args, **kwargs)
        except TypeError as exc:
            raise AppLoadError(f"Error while calling {name!r} in {module_name!r}: {exc}", traceback.format_exc()) from None
        except Exception as exc:
            raise AppLoadError(
                f"Application factory {name!r} in {module_name!r} raised {type(exc).__name__}: {exc}",
                traceback.format_exc(),
            ) from None
        if obj is None:
            raise AppLoadError(f"Application factory {name!r} in {module_name!r} returned None.")

    if not callable(obj):
        raise AppLoadError(f"Application object {name!r} in {module_name!r} must be callable.")
    if _is_asgi(obj):
        hint = " (for Django: the project's wsgi module, e.g. mysite.wsgi:application)" if module_name.endswith("asgi") else ""
        raise AppLoadError(
            f"Application object {name!r} in {module_name!r} is an ASGI application (an async callable taking "
            f"scope, receive, send); Lanner serves WSGI applications: name the WSGI callable instead{hint}."
        )
    return obj


def _is_asgi(obj: Any) -> bool:
    """An ``async def`` function, or an object whose ``__call__`` is one. A WSGI app never is."""
    import inspect

    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(type(obj), "__call__", None)
    return not inspect.isfunction(obj) and not inspect.isclass(obj) and inspect.iscoroutinefunction(call)
