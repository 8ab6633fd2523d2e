"""An app module that cannot be imported: its dependency is missing."""

import lanner_test_dependency_that_does_not_exist  # noqa: F401


def application(environ, start_response):
    start_response("200 OK", [])
    return [b""]
