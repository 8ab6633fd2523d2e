import time

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render

ITEMS = [{"id": i, "name": f"item {i}", "price": i * 1.5} for i in range(50)]


def home(request):
    return render(request, "pages/home.html", {"title": "Lanner demo"})


def plain(request):
    return HttpResponse("Hello, World!", content_type="text/plain")


def template(request):
    return render(request, "pages/items.html", {"title": "Items", "items": ITEMS})


def json_view(request):
    return JsonResponse(ITEMS[:20], safe=False)


def stream(request):
    def ticks():
        for i in range(5):
            if i:
                time.sleep(0.5)
            yield f"tick {i}\n"

    return StreamingHttpResponse(ticks(), content_type="text/plain")
