"""A Django project's WSGI app with its static files served by Django itself, from each app's
``static/`` directory (the staticfiles finders), as ``runserver`` does.

Lanner serves static files from the master, out of STATIC_ROOT, as collectstatic last left it.
In development, with DEBUG on (or runserver's ``--insecure``), lanner.django.discovery picks this
app instead: files are found before anything is collected, and an edited one is served as it is
now, as under ``runserver``. It is slow (every file goes through Python) and for development only.
"""

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import get_internal_wsgi_application

application = StaticFilesHandler(get_internal_wsgi_application())
