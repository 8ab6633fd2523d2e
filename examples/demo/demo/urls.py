from django.contrib import admin
from django.urls import path

from pages import views

urlpatterns = [
    path("", views.home),
    path("admin/", admin.site.urls),
    path("plain", views.plain),
    path("template", views.template),
    path("json", views.json_view),
    path("stream", views.stream),
]
