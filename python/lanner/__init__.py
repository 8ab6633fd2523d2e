"""Lanner: a production application server for Python web apps (WSGI; ASGI is not served yet).

The server itself is a compiled .NET program shipped inside this package (``lanner/_server``);
this package holds the launcher that starts it and the worker that runs your app in plain
Python processes. The worker uses only the standard library.
"""

__version__ = "0.1.0"
