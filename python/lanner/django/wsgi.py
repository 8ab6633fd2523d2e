"""The WSGI app of a Django project whose settings name no WSGI_APPLICATION."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
