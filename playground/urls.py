from django.contrib import admin
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog

from . import accounts, api, compose_api, export_api, modes_api, tour, traffic, views

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
    # Composer, modes, rules and exports (compose_api, modes_api, export_api).
    path("compose/", compose_api.compose, name="api-compose"),
    path("mode/", modes_api.sandbox_mode, name="api-mode"),
    path("rules/", modes_api.sandbox_rules, name="api-rules"),
    path("exchanges/export.har", export_api.har, name="api-export-har"),
    path("exchanges/export.raw", export_api.raw_dump, name="api-export-raw"),
    re_path(r"^exchanges/(?P<seq>[0-9]{1,18})/(?P<name>server_recv\.txt|server_send\.txt)$",
            export_api.tutorial_file, name="api-exchange-file"),
    re_path(r"^exchanges/(?P<seq>[0-9]{1,18})/body\.bin$", export_api.request_body,
            name="api-exchange-body"),
    re_path(r"^exchanges/(?P<seq>[0-9]{1,18})/export/curl$", export_api.curl,
            name="api-exchange-curl"),
]

playground_urls = [
    path("", views.home, name="home"),
    path("sandboxes/<int:sandbox_id>/", views.sandbox_page, name="sandbox-page"),
    path("sandboxes/<int:sandbox_id>/traffic/", traffic.traffic_page, name="traffic-page"),
    path("api/sandboxes/", api.sandbox_list, name="api-sandboxes"),
    # The guided tour (tour.py): its page and the one-click setup of each step.
    path("tour/", tour.tour_page, name="tour"),
    path("api/tour/steps/<slug:slug>/setup/", tour.tour_setup, name="api-tour-setup"),
    path("api/sandboxes/<int:sandbox_id>/", include(sandbox_api)),
]

urlpatterns = [
    path("", include((playground_urls, "playground"))),
    path("admin/", admin.site.urls),
    path("accounts/", include(accounts.urlpatterns)),
    # The language switcher posts to i18n/setlang/; JS strings come from jsi18n/.
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    re_path(r"^static/(?P<path>.+)$", views.static),
]

handler400 = "playground.errors.bad_request"
handler403 = "playground.errors.permission_denied"
handler404 = "playground.errors.page_not_found"
handler500 = "playground.errors.server_error"
