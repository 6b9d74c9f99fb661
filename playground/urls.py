"""Every HTTP URL of the site, by package (websockets: routing.py)."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog

from . import accounts, views
from .checking import api as checking_api
from .classes import urls as classes_urls
from .compose import api as compose_api
from .compose import several as compose_several
from .files import api as files_api
from .learn import glossary, tour
from .sandboxes import api as sandboxes_api
from .sandboxes import pages as sandbox_pages
from .traffic import advice_api, compare_api
from .traffic import api as traffic_api
from .traffic import bodies_api as traffic_bodies_api
from .traffic import pages as traffic_pages
from .traffic import search as traffic_search

SEQ = r"(?P<seq>[0-9]{1,18})"

sandbox_api = [
    path("", sandboxes_api.sandbox_detail, name="api-sandbox"),
    path("start/", sandboxes_api.sandbox_start, name="api-start"),
    path("stop/", sandboxes_api.sandbox_stop, name="api-stop"),
    path("restart/", sandboxes_api.sandbox_restart, name="api-restart"),
    path("mode/", sandboxes_api.sandbox_mode, name="api-mode"),
    path("rules/", sandboxes_api.sandbox_rules, name="api-rules"),
    path("program/", sandboxes_api.sandbox_program, name="api-program"),
    path("starter/", files_api.starter_site, name="api-starter"),
    path("files/", files_api.file_list, name="api-files"),
    path("files/<path:path>", files_api.file_detail, name="api-file"),
    path("compose/", compose_api.compose, name="api-compose"),
    # "Check my server" (checking/): runs of the stage checks.
    path("checks/", checking_api.check_list, name="api-checks"),
    path("checks/<int:number>/", checking_api.check_detail, name="api-check"),
    path("checks/<int:number>/stop/", checking_api.check_stop, name="api-check-stop"),
    path("exchanges/", traffic_api.exchange_list, name="api-exchanges"),
    path("exchanges/matching/", traffic_search.matching, name="api-exchanges-matching"),
    path("runs/", traffic_api.run_list, name="api-runs"),
    path("streams/", traffic_api.stream_list, name="api-streams"),
    re_path(rf"^exchanges/{SEQ}/(?P<part>request|response)\.raw$",
            traffic_api.exchange_raw, name="api-exchange-raw"),
    re_path(rf"^exchanges/{SEQ}/(?P<part>request|response)\.body$",
            traffic_bodies_api.body_view, name="api-exchange-body-view"),
    path("exchanges/export.har", traffic_api.har, name="api-export-har"),
    path("exchanges/export.raw", traffic_api.raw_dump, name="api-export-raw"),
    re_path(rf"^exchanges/{SEQ}/(?P<name>server_recv\.txt|server_send\.txt)$",
            traffic_api.tutorial_file, name="api-exchange-file"),
    re_path(rf"^exchanges/{SEQ}/body\.bin$", traffic_api.request_body,
            name="api-exchange-body"),
    re_path(rf"^exchanges/{SEQ}/export/curl$", traffic_api.curl, name="api-exchange-curl"),
    # httplint's notes and ours on each message (traffic/advice*.py).
    path("exchanges/advice/", advice_api.advice_counts, name="api-advice-counts"),
    re_path(rf"^exchanges/{SEQ}/advice/$", advice_api.exchange_advice, name="api-exchange-advice"),
]

playground_urls = [
    path("", sandbox_pages.home, name="home"),
    path("sandboxes/<int:sandbox_id>/", sandbox_pages.sandbox_page, name="sandbox-page"),
    path("sandboxes/<int:sandbox_id>/traffic/", traffic_pages.traffic_page,
         name="traffic-page"),
    path("api/sandboxes/", sandboxes_api.sandbox_list, name="api-sandboxes"),
    # Two exchanges side by side, from any runs of any of the visitor's sandboxes.
    path("compare/", compare_api.compare_page, name="compare-page"),
    path("api/compare/", compare_api.exchange_diff, name="api-compare"),
    # The composer's tools that need no one sandbox: a curl command as bytes, and one
    # request to several of your sandboxes, diffed (compose/).
    path("api/compose/curl/", compose_api.from_curl, name="api-compose-curl"),
    path("api/compose/several/", compose_several.compose_several, name="api-compose-several"),
    # The guided tour (learn/tour.py): its page and the one-click setup of each step.
    path("tour/", tour.tour_page, name="tour"),
    path("api/tour/steps/<slug:slug>/setup/", tour.tour_setup, name="api-tour-setup"),
    # The glossary's entries as a page, each with an anchor (learn/glossary.py).
    path("glossary/", glossary.glossary_page, name="glossary"),
    path("api/sandboxes/<int:sandbox_id>/", include(sandbox_api)),
    # Classes (classes/): the class list, joining, the board, the broadcast.
    path("", include(classes_urls)),
]

urlpatterns = [
    path("", include((playground_urls, "playground"))),
    path("admin/", admin.site.urls),
    path("accounts/", include(accounts.urlpatterns)),
    # The language switcher posts to i18n/setlang/; JS strings come from jsi18n/.
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    re_path(r"^static/(?P<path>.+)$", views.static),
    path("favicon.ico", views.favicon),
]

handler400 = "playground.errors.bad_request"
handler403 = "playground.errors.permission_denied"
handler404 = "playground.errors.page_not_found"
handler500 = "playground.errors.server_error"
