from django.contrib import admin
from django.urls import include, path, re_path

from . import api, traffic, views

sandbox_api = [
    path("", api.sandbox_detail, name="api-sandbox"),
    path("start/", api.sandbox_start, name="api-start"),
    path("stop/", api.sandbox_stop, name="api-stop"),
    path("restart/", api.sandbox_restart, name="api-restart"),
    path("starter/", api.starter_site, name="api-starter"),
    path("files/", api.file_list, name="api-files"),
    path("files/<path:path>", api.file_detail, name="api-file"),
    path("exchanges/", traffic.exchange_list, name="api-exchanges"),
    re_path(r"^exchanges/(?P<seq>[0-9]{1,18})/(?P<part>request|response)\.raw$",
            traffic.exchange_raw, name="api-exchange-raw"),
]

playground_urls = [
    path("", views.home, name="home"),
    path("sandboxes/<int:sandbox_id>/", views.sandbox_page, name="sandbox-page"),
    path("sandboxes/<int:sandbox_id>/traffic/", traffic.traffic_page, name="traffic-page"),
    path("api/sandboxes/", api.sandbox_list, name="api-sandboxes"),
    path("api/sandboxes/<int:sandbox_id>/", include(sandbox_api)),
]

urlpatterns = [
    path("", include((playground_urls, "playground"))),
    path("admin/", admin.site.urls),
    re_path(r"^static/(?P<path>.+)$", views.static),
]

handler400 = "playground.errors.bad_request"
handler403 = "playground.errors.permission_denied"
handler404 = "playground.errors.page_not_found"
handler500 = "playground.errors.server_error"
