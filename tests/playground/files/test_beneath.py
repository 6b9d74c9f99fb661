"""files/beneath.py against a folder whose owner (a running program) swaps names: the
playground (root) must never act through a symlink it did not make (review)."""

import os

from playground.files import beneath


def test_replace_never_touches_what_a_swapped_temp_points_to(tmp_path):
    # A running program sees our temporary file in its folder and swaps it for a
    # symlink to a host file before we move it into place: `replace` must not follow
    # it (it used to os.stat and os.utime the target: root changed any file's mtime).
    folder_path = tmp_path / "files"
    folder_path.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("not the sandbox's")
    os.utime(outside, ns=(10**18, 10**18))  # older than the file it would replace
    (folder_path / "page.txt").write_text("old")
    os.utime(folder_path / "page.txt", ns=(2 * 10**18, 2 * 10**18))
    folder = os.open(folder_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.symlink(outside, ".tmp-swapped", dir_fd=folder)
        beneath.replace(folder, ".tmp-swapped", "page.txt")
    finally:
        os.close(folder)

    assert outside.stat().st_mtime_ns == 10**18
    assert (folder_path / "page.txt").is_symlink()  # moved as a name, never followed
