"""A full disk under a real playground process (issue 11, point 7), the database on a
real tmpfs that another program fills: the sandbox keeps answering, what could not be
stored is counted as not recorded for that reason, the rows stored before are intact,
and recording resumes by itself once space is back.

(test_disk_full.py shows the same rules in-process, with SQLite's max_page_count.)
"""

from __future__ import annotations

from testkit import services
from testkit.load import keep_alive_burst
from testkit.playgrounds import Browser, Daphne, one_port_env
from testkit.waiting import wait_until


def test_traffic_on_a_full_disk_is_counted_and_recording_resumes(tmp_path, free_ports):
    sandbox_port, site_port = free_ports(2)
    # 64 MB: once space is back, what waited (up to 200 x 60 KB) must fit twice, in
    # SQLite's write-ahead log and then in the database file it is copied into.
    with services.small_disk(tmp_path / "disk", size="64m") as disk:
        env = one_port_env(tmp_path, sandbox_port, PLAYGROUND_DB=str(disk / "db.sqlite3"))
        site = Daphne("A", env, tmp_path, site_port)
        try:
            browser = Browser()
            sandbox = browser.new_sandbox(site, "full", sandbox_port)
            assert browser.call(site, "POST", sandbox["links"]["start"])[0] == 200
            runs_url = f"/api/sandboxes/{sandbox['id']}/runs/"
            list_url = f"/api/sandboxes/{sandbox['id']}/exchanges/?run=all"

            def listed() -> list[dict]:  # every stored row, page by page
                rows: list[dict] = []
                while True:
                    page = browser.call(site, "GET", f"{list_url}&after="
                                        f"{rows[-1]['seq'] if rows else 0}")[1]
                    rows += page["exchanges"]
                    if not page["more"]:
                        return rows

            def run_counts() -> dict:
                status, data = browser.call(site, "GET", runs_url)
                assert status == 200, data
                return data["runs"][-1]["counts"]

            # 50 stored while there is room.
            assert keep_alive_burst(sandbox_port, 50, 5) == 50
            wait_until(lambda: run_counts()["stored"] == 50, 30, "50 rows stored")
            before = listed()

            # Another program fills the disk: the server still answers every request.
            # Each answer is a 60 KB page, recorded whole: 200 of them need far more room
            # than SQLite's write-ahead log may still hold from before.
            big_page = tmp_path / "data" / "sandboxes" / str(sandbox["id"]) / "big.html"
            big_page.write_bytes(b"x" * 60_000)
            filler = services.fill(disk)
            assert keep_alive_burst(sandbox_port, 200, 5, "/big.html") == 200
            # The page still reads (reads need no space) and never shows a 500.
            status, _ = browser.call(site, "GET", runs_url)
            assert status == 200

            filler.unlink()  # space is back: recording resumes by itself
            assert keep_alive_burst(sandbox_port, 10, 2) == 10

            def settled() -> dict | None:
                counts = run_counts()
                return counts if counts["served"] == 260 and counts["stored"] >= 60 else None

            counts = wait_until(settled, 30, "the counts to include all 260 requests",
                                explain=lambda: f"{run_counts()}\n{_not_access(site)}")
            # Independent checks: the rows the list API returns, and the 200 requests that
            # came while the disk was full.
            rows = listed()
            assert len(rows) == counts["stored"]
            assert counts["served"] == counts["stored"] + counts["removed"] + \
                counts["not_recorded"]
            assert counts["removed"] == 0
            lost = counts["not_recorded_reasons"]
            assert lost.get("disk_full", 0) >= 1, counts
            assert counts["not_recorded"] == 260 - len(rows)
            # What was stored before is intact, and the 10 sent after were stored.
            assert rows[:50] == before
            assert rows[-1]["seq"] == rows[0]["seq"] + 259  # the last request of all
            assert "Traceback" not in site.output()
        finally:
            site.close()


def _not_access(site: Daphne) -> str:
    """The process's log without its access lines: what went wrong, if anything."""
    return "\n".join(line for line in site.output().splitlines()
                     if " - - [" not in line)[-6000:]

