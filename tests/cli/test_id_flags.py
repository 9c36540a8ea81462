"""An id given to a command's flag: the UUID, or the id the API shows for that kind of
object, so an id copied from GraphiQL (a dead letter's, a workspace's) works too."""

from __future__ import annotations

import uuid

import pytest
import typer

from backend.entrypoints.commands.common import parse_uuid
from tests.fixtures.graphql import global_id


def test_a_flag_takes_a_uuid_or_the_api_id_of_its_kind() -> None:
    letter = uuid.uuid4()
    assert parse_uuid(str(letter), "--id", "DeadLetter") == letter
    assert parse_uuid(global_id("DeadLetter", letter), "--id", "DeadLetter") == letter
    assert parse_uuid(None, "--id", "DeadLetter") is None


@pytest.mark.parametrize(
    "value",
    [
        "not-an-id",
        global_id("Workspace", uuid.uuid4()),  # another kind's id
        global_id("DeadLetter", uuid.uuid4())[:-4],  # cut short
        "RGVhZExldHRlcjpub3QtYS11dWlk",  # "DeadLetter:not-a-uuid"
    ],
)
def test_anything_else_is_refused_naming_the_flag(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as refused:
        parse_uuid(value, "--id", "DeadLetter")
    assert refused.value.exit_code == 2
    assert "error: --id: not a valid id (a UUID, or the API's id of a DeadLetter)" in (
        capsys.readouterr().err
    )
