"""`db.detached`: objects made from Core rows behave like ORM objects a session loaded
and let go."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import bindparam, select
from sqlalchemy import inspect as sa_inspect
from sqlmodel import Session
from sqlmodel import select as select_models

from sync.server.config import ServerSettings
from sync.server.db import detached, make_engine, migrate, table_of
from sync.server.models import Membership, User, Workspace

_WORKSPACE, _MEMBERSHIP = table_of(Workspace), table_of(Membership)
_JOINED = (
    select(_WORKSPACE, _MEMBERSHIP)
    .select_from(_WORKSPACE.outerjoin(_MEMBERSHIP, _MEMBERSHIP.c.workspace_id == _WORKSPACE.c.id))
    .where(_WORKSPACE.c.id == bindparam("id"))
)


def test_detached_objects_read_like_loaded_ones_and_update_when_added(tmp_path: Path) -> None:
    engine = make_engine(ServerSettings(data_dir=tmp_path))
    migrate(engine)
    with Session(engine, expire_on_commit=False) as session:
        lonely = Workspace(name="No members yet")
        busy = Workspace(name="Team")
        user = User(email="ada@example.org", display_name="Ada")
        session.add_all([lonely, busy, user])
        session.flush()
        membership = Membership(workspace_id=busy.id, user_id=user.id, role="member")
        session.add(membership)
        session.commit()

    with engine.connect() as connection:
        row = connection.execute(_JOINED, {"id": busy.id}).first()
        empty = connection.execute(_JOINED, {"id": lonely.id}).first()
    workspace = detached(Workspace, row)
    member = detached(Membership, row)
    assert workspace is not None
    assert member is not None
    assert (workspace.id, workspace.name, workspace.created_at) == (
        busy.id, "Team", busy.created_at,
    )  # fmt: skip
    assert (member.role, member.user_id, member.event_seq) == ("member", user.id, 0)
    assert sa_inspect(member).detached
    assert member.model_dump()["workspace_id"] == busy.id
    # The missing side of an outer join is no object at all.
    assert detached(Membership, empty) is None
    assert detached(Workspace, empty) is not None
    assert detached(Workspace, None) is None

    # Added to a session and changed, it is updated in place: never a second row.
    with Session(engine) as session:
        session.add(member)
        member.role = "reviewer"
        session.commit()
    with Session(engine) as session:
        query = select_models(Membership).where(Membership.workspace_id == busy.id)
        rows = session.exec(query).all()
        assert [(m.id, m.role) for m in rows] == [(membership.id, "reviewer")]
    engine.dispose()
