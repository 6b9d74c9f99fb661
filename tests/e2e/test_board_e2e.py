"""The class board in two browsers (issue 15 point 2): a teacher's board open while a
student, in another browser, starts a sandbox and runs the checks; the student's row
changes on the teacher's screen without a reload. Then the teacher sorts, filters and
turns on the projector view (kept after a reload).

A playground of its own (its database gets a class made with the ORM), a real Chromium.
"""

from testkit.class_browsers import login, make_class

NAMES = {"sato": "Sato", "aiko": "Aiko", "ben": "Ben"}


def _order(page) -> list[str]:
    return page.eval_on_selector_all("#board-rows tr", "rows => rows.map(r => r.dataset.student)")


def test_the_board_follows_the_student_and_sorts_and_filters(browser, playground_factory,
                                                            screenshot_dir, free_port, monkeypatch):
    # A port the OS chose (the form's suggestion is every playground's on this machine).
    monkeypatch.setenv("PLAYGROUND_PORT_RANGE", f"{free_port}-{free_port}")
    site = playground_factory()
    ids = make_class(site.env, ("aiko", "ben"), first_names=NAMES)
    aiko, ben = str(ids["aiko"]), str(ids["ben"])
    teacher_context, board, teacher_errors = login(browser, site, "sato")
    student_context, student, student_errors = login(browser, site, "aiko")
    try:
        board.goto(f"{site.base}/classes/{ids['class']}/")
        board.wait_for_selector("#board-conn[data-state=live]")
        assert sorted(_order(board)) == sorted([aiko, ben])
        assert board.get_attribute(f"tr[data-student='{aiko}']", "data-status") == "none"

        # The student starts a sandbox: the row shows it running, no reload.
        sandbox = student.evaluate("""async (port) => {
          const sb = await PG.api("POST", "/api/sandboxes/", {name: "site-1", port});
          await PG.api("POST", sb.links.starter, {});
          return await PG.api("POST", sb.links.start);
        }""", free_port)
        assert sandbox["status"] == "running"
        board.wait_for_selector(f"tr[data-student='{aiko}'][data-status=running]")
        # ... and runs the checks of stage 1 from the sandbox's page.
        student.goto(site.base + sandbox["links"]["page"])
        student.wait_for_selector("#checks-run:not([disabled])")
        student.select_option("#checks-through", "1")
        student.click("#checks-run")
        board.wait_for_selector(f"tr[data-student='{aiko}'][data-reached='1'] "
                                ".board-check[data-state=passed]", timeout=120_000)
        board.locator("#board").screenshot(path=str(screenshot_dir / "class-board-en.png"))

        # Sort by stage reached: ben (0) before aiko (1), then the other way round.
        board.click("button.sort[data-sort=reached]")
        assert _order(board) == [ben, aiko]
        board.click("button.sort[data-sort=reached]")
        assert _order(board) == [aiko, ben]
        board.click("button.sort[data-sort=name]")
        assert _order(board) == [aiko, ben]
        # Filters: by name, by status, by the stage a student is stuck on.
        board.fill("#board-filter", "be")
        assert _order(board) == [ben]
        board.fill("#board-filter", "")
        board.select_option("#board-status", "running")
        assert _order(board) == [aiko]
        board.select_option("#board-status", "none")
        assert _order(board) == [ben]
        board.select_option("#board-status", "")
        board.select_option("#board-stuck", "4")
        assert _order(board) == []
        assert board.is_visible("#board-nomatch")
        board.select_option("#board-stuck", "")
        assert len(_order(board)) == 2

        # The projector view, kept over a reload.
        board.click("#board-projector")
        assert board.evaluate("document.body.classList.contains('projector')")
        board.reload()
        board.wait_for_selector("#board-conn[data-state=live]")
        assert board.evaluate("document.body.classList.contains('projector')")
        assert board.get_attribute("#board-projector", "aria-pressed") == "true"
        board.locator("#board").screenshot(path=str(screenshot_dir / "class-board-projector.png"))

        # The student stops the sandbox: the teacher's row follows.
        student.evaluate("(url) => PG.api('POST', url)", sandbox["links"]["stop"])
        board.wait_for_selector(f"tr[data-student='{aiko}'][data-status=stopped]")
        assert not teacher_errors and not student_errors, (teacher_errors, student_errors)
    finally:
        teacher_context.close()
        student_context.close()


def test_the_board_in_japanese_on_a_projector(browser, playground_factory, screenshot_dir):
    site = playground_factory()
    ids = make_class(site.env, ("aiko", "ben"), first_names=NAMES)
    context, board, errors = login(browser, site, "sato", "ja-JP")
    try:
        board.goto(f"{site.base}/classes/{ids['class']}/")
        board.wait_for_selector("#board-conn[data-state=live]")
        assert "クラスボード" in board.inner_text("h1")
        assert "参加コード" in board.inner_text(".board-code")
        rows = board.inner_text("#board-rows")
        assert "サンドボックスなし" in rows and "まだチェックしていません" in rows
        assert board.inner_text("#board-conn") == "ライブ"
        board.click("#board-projector")
        board.locator("#board").screenshot(path=str(screenshot_dir / "class-board-ja.png"))
        assert not errors, errors
    finally:
        context.close()
