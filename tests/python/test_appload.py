import sys
import textwrap

import pytest

from lanner.worker.appload import AppLoadError, load_app, parse_app_spec


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("app", ("app", None, (), {}, False)),
        ("pkg.mod:application", ("pkg.mod", "application", (), {}, False)),
        ("pkg.mod:obj.wsgi", ("pkg.mod", "obj.wsgi", (), {}, False)),
        ("mod:create_app()", ("mod", "create_app", (), {}, True)),
        ("mod:create_app('prod', debug=False)", ("mod", "create_app", ("prod",), {"debug": False}, True)),
    ],
)
def test_parse_app_spec(spec, expected):
    assert parse_app_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", " mod", "mod:", "1mod:app", "mod:app(x)", "mod:a+b", "mod:f(**k)"])
def test_parse_app_spec_rejects(spec):
    with pytest.raises(AppLoadError):
        parse_app_spec(spec)


@pytest.fixture
def modules(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> None:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        sys.modules.pop(name, None)

    return write


def test_module_alone_prefers_application_then_app(modules):
    modules("m_app_only", "def app(e, s): pass\n")
    modules("m_both", "def app(e, s): pass\ndef application(e, s): pass\n")
    assert load_app("m_app_only").__name__ == "app"
    assert load_app("m_both").__name__ == "application"


def test_factory_is_called_with_literal_arguments(modules):
    modules("m_factory", """
        def create(name, debug=True):
            def app(e, s): pass
            app.config = (name, debug)
            return app
    """)
    assert load_app("m_factory:create('x', debug=False)").config == ("x", False)


def test_missing_module_names_it(modules):
    with pytest.raises(AppLoadError, match="Failed to find application module 'no_such_module_x'"):
        load_app("no_such_module_x")


def test_missing_attribute_names_it(modules):
    modules("m_empty", "x = 1\n")
    with pytest.raises(AppLoadError, match=r"Failed to find attribute 'nope' in 'm_empty'"):
        load_app("m_empty:nope")


def test_import_error_inside_the_app_keeps_its_traceback(modules):
    modules("m_broken", "import this_dependency_is_missing\n")
    with pytest.raises(AppLoadError) as info:
        load_app("m_broken")
    assert "this_dependency_is_missing" in str(info.value)
    assert "Traceback" in info.value.traceback


def test_exception_at_import_keeps_its_traceback(modules):
    modules("m_raises", "raise RuntimeError('boom at import')\n")
    with pytest.raises(AppLoadError, match="RuntimeError: boom at import") as info:
        load_app("m_raises")
    assert "m_raises.py" in info.value.traceback


def test_not_callable(modules):
    modules("m_value", "application = 42\n")
    with pytest.raises(AppLoadError, match="must be callable"):
        load_app("m_value")


def test_an_asgi_function_is_refused_with_what_to_name_instead(modules):
    modules("m_asgi_fn", "async def app(scope, receive, send):\n    pass\n")
    with pytest.raises(AppLoadError, match=r"'app' in 'm_asgi_fn' is an ASGI application .*name the WSGI callable instead\.$"):
        load_app("m_asgi_fn:app")


def test_an_asgi_object_from_an_asgi_module_gets_the_django_hint(modules):
    modules("proj_asgi", "class Handler:\n    async def __call__(self, scope, receive, send):\n        pass\n\napplication = Handler()\n")
    with pytest.raises(AppLoadError, match=r"is an ASGI application .*for Django: the project's wsgi module"):
        load_app("proj_asgi")


def test_a_wsgi_class_instance_and_a_wsgi_class_are_accepted(modules):
    modules("m_wsgi_obj", "class App:\n    def __call__(self, environ, start_response):\n        return []\n\napp = App()\nKlass = App\n")
    assert callable(load_app("m_wsgi_obj:app"))
    assert load_app("m_wsgi_obj:Klass") is not None
