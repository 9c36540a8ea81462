"""Fetch GraphiQL's files from npm again, at the manifest's versions, and check them.

    python -m backend.entrypoints.graphiql.vendor          # npm's bytes, ours, the manifest agree?
    python -m backend.entrypoints.graphiql.vendor --write  # take npm's bytes and hashes

To update, edit a version (and the file's name, which carries it) in
``assets/manifest.json`` and in ``page.html``, then run with ``--write``: it writes the
files and their hashes and deletes the files the manifest no longer names.
``npm pack`` checks each tarball against the registry's integrity hash; nothing comes
from a CDN.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from backend.entrypoints.graphiql import ASSETS, MANIFEST, manifest


def _tarball(package: str, version: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not on PATH")
    packed = subprocess.run(  # noqa: S603 - a fixed command, names from our manifest
        [npm, "pack", f"{package}@{version}", "--json", "--pack-destination", str(into)],
        capture_output=True,
        text=True,
        check=True,
    )
    filename: str = json.loads(packed.stdout)[0]["filename"]
    return into / filename


def _from_npm(entry: dict[str, str], into: Path) -> bytes:
    tarball = into / f"{entry['package']}@{entry['version']}".replace("/", "+")
    if not tarball.exists():  # several files may come from one package
        _tarball(entry["package"], entry["version"], into).rename(tarball)
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(f"package/{entry['path']}")
        if member is None:
            raise SystemExit(f"{entry['package']}@{entry['version']} has no {entry['path']}")
        return member.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace our files with npm's")
    write = parser.parse_args().write
    listed = manifest()
    wrong = []
    with tempfile.TemporaryDirectory() as work:
        for name, entry in listed.items():
            fetched = _from_npm(entry, Path(work))
            digest = hashlib.sha256(fetched).hexdigest()
            source = f"{entry['package']}@{entry['version']}/{entry['path']}"
            if write:
                (ASSETS / name).write_bytes(fetched)
                entry["sha256"] = digest
            ours = ASSETS / name
            same = ours.exists() and hashlib.sha256(ours.read_bytes()).hexdigest() == digest
            ok = same and digest == entry["sha256"]
            if not ok:
                wrong.append(name)
            print(f"{'ok ' if ok else 'BAD'} {name:40} {source} ({len(fetched):,} B)")
    if write:
        MANIFEST.write_text(json.dumps(listed, indent=2) + "\n", encoding="utf-8")
        for path in ASSETS.iterdir():
            if path != MANIFEST and path.name not in listed:
                path.unlink()
                print(f"deleted {path.name}")
    if wrong:
        print(f"differ from npm: {', '.join(wrong)} (run with --write to take npm's)")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
