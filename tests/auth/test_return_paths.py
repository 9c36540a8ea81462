"""Where a sign-in may send the browser afterwards: paths on this site only."""

from __future__ import annotations

import pytest

from backend.auth.sso import safe_return_path


@pytest.mark.parametrize("path", ["/", "/maps/42", "/maps?tab=health#top", "/a/b%2Fc"])
def test_a_local_path_is_kept(path: str) -> None:
    assert safe_return_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        None,
        "",
        "maps",
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/ /evil.example",
        "javascript:alert(1)",
    ],
)
def test_anything_that_could_leave_the_site_goes_home(path: str | None) -> None:
    assert safe_return_path(path) == "/"
