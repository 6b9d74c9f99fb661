"""First use, polished (issue 16, point 12), in a real Chromium against a real playground
and real sandboxes, in English and in Japanese:

* a favicon on every page, and /favicon.ico for pages without one;
* notices that dismiss themselves, but not while the pointer rests on one, and not
  errors; the server's own notices (after a redirect) too. Time is Playwright's clock,
  moved by hand: nothing here waits for real seconds;
* connection numbers counted from 1 in the list, as in the detail;
* a long file name wraps instead of pushing the files table off the page;
* a folder upload says where its files went (and they are served there);
* a zip that would replace files asks first, like the starter site;
* the language choice is kept for a year.
"""

import http.client
import io
import time
import urllib.request
import uuid
import zipfile

import pytest
from playwright.sync_api import expect
from testkit.sandbox_pages import start_in_page

pytestmark = pytest.mark.browser

LOCALES = {"en": "en-US", "ja": "ja-JP"}
YEAR = 365 * 24 * 3600
WORDS = {
    "en": {"starter": "Replaced the starter site files.",
           "created": "Class {name} created: its join code is",
           "detail": "connection {conn}, request 2 on it (keep-alive reuse)",
           "folder": "Added 2 files to the folder mysite/: the sandbox serves them at /mysite/.",
           "replace": "index.html already exists in this sandbox; replace it?",
           "kept": "Nothing was unpacked from site.zip: your files are as they were.",
           "switch_to": "ja"},
    "ja": {"starter": "スターターサイトのファイルを置き換えました。",
           "created": "クラス {name} を作成しました。参加コードは",
           "detail": "接続 {conn} の 2 番目のリクエスト（keep-alive による再利用）",
           "folder": "2 個のファイルをフォルダー mysite/ に追加しました。"
                     "サンドボックスでは /mysite/ で配信されます。",
           "replace": "index.html はこのサンドボックスにすでにあります。置き換えますか？",
           "kept": "site.zip からは何も展開していません。ファイルは元のままです。",
           "switch_to": "en"},
}
# How long a notice stays, read from dom.js itself (the page preloads it).
NOTICE_MS = """async () => (await import(
  document.querySelector('link[href$="dom.js"]').href)).NOTICE_MS"""


@pytest.fixture
def learner(browser, shared_playground):
    """learner(language, clock=False) -> page: a new browser session in that language,
    the home page open. ``clock``: Playwright's clock installed first, so the test
    moves time itself."""
    contexts = []

    def open_(language: str, clock: bool = False):
        context = browser.new_context(viewport={"width": 1200, "height": 900},
                                      locale=LOCALES[language])
        contexts.append(context)
        page = context.new_page()
        if clock:  # time moves only when the test says so
            page.clock.install()
            page.clock.pause_at(time.time() + 1)
        page.goto(shared_playground.base + "/")
        return page

    yield open_
    for context in contexts:
        context.close()


def sandbox_page(page, site) -> dict:
    """A running sandbox with the starter site on the port the playground suggests (its
    range, 8000-8999); its page opened."""
    page.goto(site.base + "/")
    sandbox = start_in_page(page, f"polish-{uuid.uuid4().hex[:6]}")
    assert sandbox["status"] == "running", sandbox
    page.goto(f"{site.base}/sandboxes/{sandbox['id']}/")
    page.locator("#file-tree tbody tr").first.wait_for()
    return sandbox


def file_text(page, sandbox: dict, path: str) -> str:
    return page.evaluate("async (u) => (await fetch(u)).text()",
                         sandbox["links"]["files"] + path)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_page_has_a_favicon(learner, shared_playground, language):
    page = learner(language)
    for path in ("/", "/tour/", "/glossary/"):
        page.goto(shared_playground.base + path)
        href = page.locator("head link[rel=icon]").get_attribute("href")
        icon = page.request.get(shared_playground.base + href)
        assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")
        assert icon.body().lstrip().startswith(b"<svg")
    # A page without the link (a JSON answer opened in a tab) gets the same icon.
    fallback = page.request.get(shared_playground.base + "/favicon.ico")
    assert fallback.ok and fallback.body() == icon.body()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_notices_dismiss_themselves_unless_read_or_an_error(learner, shared_playground,
                                                            language):
    page = learner(language, clock=True)
    sandbox_page(page, shared_playground)
    stay = page.evaluate(NOTICE_MS)
    notices = page.locator("#messages .notice")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#starter-site").click()  # asks to replace (accepted), then a notice
    done = notices.filter(has_text=WORDS[language]["starter"])
    expect(done).to_have_count(1)
    done.hover()  # being read: it stays, however long
    page.clock.fast_forward(stay * 5)
    expect(done).to_have_count(1)
    page.mouse.move(5, 5)
    page.clock.fast_forward(stay + 100)
    expect(done).to_have_count(0)
    # An error stays until closed.
    page.once("dialog", lambda dialog: dialog.accept("bad\\name.txt"))
    page.locator("#new-file").click()
    error = page.locator("#messages .notice.error")
    expect(error).to_have_count(1)
    page.clock.fast_forward(stay * 5)
    expect(error).to_have_count(1)
    error.locator("button.close").click()
    expect(error).to_have_count(0)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_servers_notices_dismiss_themselves_too(learner, shared_playground, language):
    site = shared_playground
    teacher = f"polish{uuid.uuid4().hex[:8]}"
    site.manage("shell", "-c", "from django.contrib.auth.models import User; "
                f"User.objects.create_user({teacher!r}, password='teacher-pw-1')")
    site.manage("make_teacher", teacher)
    page = learner(language, clock=True)
    page.goto(site.base + "/accounts/login/?next=/classes/")
    page.fill("#id_username", teacher)
    page.fill("#id_password", "teacher-pw-1")
    page.click(".login-page button[type=submit]")
    page.locator("#new-class-form input[name=name]").fill("HTTP polish")
    page.locator("#new-class-form button[type=submit]").click()
    created = page.locator("#messages .notice.server-notice").filter(
        has_text=WORDS[language]["created"].format(name="HTTP polish"))
    expect(created).to_have_count(1)
    page.clock.fast_forward(page.evaluate(NOTICE_MS) + 100)
    expect(created).to_have_count(0)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_connections_count_from_one_in_the_list_as_in_the_detail(
        learner, shared_playground, language):
    page = learner(language)
    sandbox = sandbox_page(page, shared_playground)
    page.goto(f"{shared_playground.base}/sandboxes/{sandbox['id']}/traffic/")
    page.locator("#conn-state[data-state=live]").wait_for()
    client = http.client.HTTPConnection("127.0.0.1", sandbox["port"], timeout=10)
    for query in ("first", "second"):  # two requests on one keep-alive connection
        client.request("GET", "/?" + query)
        assert client.getresponse().read()
    client.close()
    rows = page.locator("#traffic-table tbody tr[data-seq]")
    first = rows.filter(has=page.locator("td.path", has_text="/?first"))
    second = rows.filter(has=page.locator("td.path", has_text="/?second"))
    expect(second).to_have_count(1)
    conn = first.locator("td.conn").inner_text().split(".")[0]
    assert first.locator("td.conn").inner_text() == f"{conn}.1"
    assert second.locator("td.conn").inner_text() == f"↺ {conn}.2"
    second.click()
    expect(page.locator("#detail-summary")).to_contain_text(
        WORDS[language]["detail"].format(conn=conn))


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_long_file_name_wraps(learner, shared_playground, language):
    page = learner(language)
    sandbox_page(page, shared_playground)
    name = "a-very-long-name-" + "x" * 180 + ".txt"
    page.set_input_files("#pick-files", files=[
        {"name": name, "mimeType": "text/plain", "buffer": b"long"}])
    cell = page.locator("#file-tree td.name").filter(has_text=name)
    expect(cell).to_have_count(1)
    assert cell.inner_text().strip() == name  # shown whole, not cut
    fits = page.evaluate("""() => {
      const panel = document.getElementById("files-panel");
      const table = document.getElementById("file-tree");
      return {table: table.getBoundingClientRect().right,
              panel: panel.getBoundingClientRect().right,
              page: document.documentElement.scrollWidth, view: window.innerWidth};
    }""")
    assert fits["table"] <= fits["panel"], fits
    assert fits["page"] <= fits["view"], fits


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_folder_upload_says_where_its_files_went(learner, shared_playground,
                                                  tmp_path, language):
    page = learner(language)
    sandbox = sandbox_page(page, shared_playground)
    folder = tmp_path / "mysite"
    (folder / "css").mkdir(parents=True)
    (folder / "index.html").write_text("<h1>my site</h1>")
    (folder / "css" / "site.css").write_text("h1 { color: blue }")
    page.set_input_files("#pick-folder", str(folder))
    expect(page.locator("#messages .notice.ok").filter(
        has_text=WORDS[language]["folder"])).to_have_count(1)
    # ...and that is where the sandbox serves them.
    with urllib.request.urlopen(f"http://127.0.0.1:{sandbox['port']}/mysite/",
                                timeout=10) as served:
        assert served.read() == b"<h1>my site</h1>"


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_zip_that_would_replace_files_asks_first(learner, shared_playground,
                                                   language):
    page = learner(language)
    sandbox = sandbox_page(page, shared_playground)  # the starter's index.html
    original = file_text(page, sandbox, "index.html")
    archive = {"name": "site.zip", "mimeType": "application/zip",
               "buffer": _zip({"index.html": b"<h1>from the zip</h1>", "extra.txt": b"x"})}
    asked = []

    def answer(accept: bool):
        def handle(dialog):
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()
        return handle

    page.once("dialog", answer(False))
    page.set_input_files("#pick-zip", files=[archive])
    expect(page.locator("#messages .notice").filter(
        has_text=WORDS[language]["kept"])).to_have_count(1)
    assert asked == [WORDS[language]["replace"]]
    assert file_text(page, sandbox, "index.html") == original
    assert page.locator("#file-tree tr[data-path='extra.txt']").count() == 0

    page.once("dialog", answer(True))
    page.set_input_files("#pick-zip", files=[archive])
    expect(page.locator("#file-tree tr[data-path='extra.txt']")).to_have_count(1)
    assert asked == [WORDS[language]["replace"]] * 2
    assert file_text(page, sandbox, "index.html") == "<h1>from the zip</h1>"


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_language_choice_is_kept_for_a_year(learner, language):
    page = learner(language)
    other = WORDS[language]["switch_to"]
    with page.expect_navigation():
        page.locator(f"#lang-switch button[value={other}]").click()
    assert page.locator("html").get_attribute("lang") == other
    cookie = next(c for c in page.context.cookies() if c["name"] == "django_language")
    assert cookie["value"] == other
    assert cookie["expires"] > time.time() + YEAR - 24 * 3600  # not a session cookie (-1)
