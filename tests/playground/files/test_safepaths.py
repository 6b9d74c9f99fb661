"""Names that escape the root are refused with a reason; nothing is silently fixed."""

import os

import pytest

from playground.files.safepaths import UnsafePath, check_relpath, resolve_under
from playground.files.sitefiles import Limits, SiteFiles

BAD_NAMES = {
    "": "empty",
    "../x": "'..'",
    "a/../../x": "'..'",
    "./x": "'.'",
    "/etc/passwd": "absolute",
    "C:evil.txt": "absolute",
    "a\\b.txt": "backslash",
    "a\x00b": "NUL",
    "a\nb": "control",
    "a//b": "empty folder name",
    "a/": "empty folder name",
    "x" * 256: "longer than 255 bytes",
    "/".join(["d"] * 17): "folders deep",
    ".hena-upload-x.tmp": "reserved",
}


@pytest.mark.parametrize("name,why", BAD_NAMES.items(), ids=repr)
def test_bad_names_are_refused_with_a_reason(tmp_path, name, why):
    with pytest.raises(UnsafePath, match=why):
        resolve_under(tmp_path, name)


@pytest.mark.parametrize("name", ["index.html", "css/site.css", "日本語/ページ.html",
                                  ".well-known/x", "a b/c d.txt"])
def test_good_names_resolve_inside_the_root(tmp_path, name):
    path = resolve_under(tmp_path, name)
    assert os.path.commonpath([os.path.realpath(tmp_path), path]) == os.path.realpath(tmp_path)
    assert check_relpath(name) == tuple(name.split("/"))


def test_a_symlink_inside_the_root_cannot_lead_out(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(UnsafePath, match="outside"):
        resolve_under(root, "link/secret.txt")
    files = SiteFiles(root, Limits(1000, 1000, 10))
    with pytest.raises(UnsafePath):
        files.write("link/secret.txt", b"x")
    assert list(outside.iterdir()) == []


def test_a_failed_batch_writes_nothing_and_removes_its_folders(tmp_path):
    files = SiteFiles(tmp_path, Limits(max_file_bytes=10, max_sandbox_bytes=100, max_files=10))
    files.write("keep.txt", b"old")
    with pytest.raises(Exception, match="larger than"):
        files.write_many([("keep.txt", [b"new"]), ("new/dir/a.txt", [b"ok"]),
                          ("b.txt", [b"x" * 11])])
    assert (tmp_path / "keep.txt").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["keep.txt"]  # no temp files, no new folders


def test_a_replacement_character_is_refused_only_in_new_names(tmp_path):
    """U+FFFD stands for broken UTF-8 in a name being made; an existing file's name may
    hold it (it is a real character), and must stay readable and deletable."""
    with pytest.raises(UnsafePath, match="not valid text"):
        check_relpath("a\ufffd.txt")
    assert check_relpath("a\ufffd.txt", existing=True) == ("a\ufffd.txt",)
    assert resolve_under(tmp_path, "d/a\ufffd.txt", existing=True) == \
        os.path.join(os.path.realpath(tmp_path), "d", "a\ufffd.txt")
    with pytest.raises(UnsafePath):  # a lone surrogate is never a stored name
        check_relpath("a\ud800.txt", existing=True)
