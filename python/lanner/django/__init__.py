"""Django integration: add "lanner.django" to INSTALLED_APPS and run ``python manage.py lanner``.

The command serves the project with Lanner: the app from WSGI_APPLICATION, the static files from
STATIC_ROOT at STATIC_URL (and, with --media, MEDIA_ROOT at MEDIA_URL) straight from the master.
Running ``lanner`` with no APP_MODULE in a directory with a manage.py does the same without any
change to the settings. Only Django (and the standard library) is needed.
"""
