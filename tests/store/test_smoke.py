from __future__ import annotations

from app.space import Space
from tests.conftest import PASSPHRASE


def test_asset_round_trip_survives_reopen(space: Space, space_path, kdf_policy) -> None:
    record = space.add_asset("journal", "First day", {"body": "Learned git bisect"}, ["tools"])
    space.lock()
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="now") as reopened:
        again = reopened.get_asset(record.id)
        assert again.title == "First day"
        assert again.fields == {"body": "Learned git bisect"}
        assert [hit.asset_id for hit in reopened.search("bisect")] == [record.id]
