"""GraphiQL served from the package itself: its page and its pinned files, no CDN.

The files are npm's own bytes; ``assets/manifest.json`` names each one's package,
version, path and SHA-256, and ``python -m backend.entrypoints.graphiql.vendor``
fetches them again to check (or replace) them. A file's name carries its version, so a
browser may keep it for good: a new version is a new URL.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HERE = Path(__file__).parent
ASSETS = HERE / "assets"
MANIFEST = ASSETS / "manifest.json"
PREFIX = "/_graphiql/"  # not under /graphql/, whose answers are never stored
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css"}  # nosniff needs them right
KEEP_FOR_GOOD = "public, max-age=31536000, immutable"


def manifest() -> dict[str, dict[str, str]]:
    """Each vendored file's name and where it came from (package, version, path, sha256)."""
    listed: dict[str, dict[str, str]] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return listed


@cache
def page() -> str:
    return (HERE / "page.html").read_text(encoding="utf-8")


@cache
def _files() -> dict[str, tuple[bytes, str]]:
    """Each listed file's bytes and media type, read once per process."""
    return {
        name: ((ASSETS / name).read_bytes(), MEDIA_TYPES[Path(name).suffix]) for name in manifest()
    }


def asset_route() -> Route:
    """``/_graphiql/<name>``: the manifest's files, and nothing else."""
    files = _files()

    async def asset(request: Request) -> Response:
        found = files.get(request.path_params["name"])
        if found is None:
            raise HTTPException(404)
        body, media_type = found
        return Response(body, media_type=media_type, headers={"cache-control": KEEP_FOR_GOOD})

    return Route(PREFIX + "{name}", asset, methods=["GET"])
