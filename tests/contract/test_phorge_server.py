"""The suite's real Phorge itself: reset returns it to the seed, whatever MariaDB remembers."""
from __future__ import annotations


def test_reset_forgets_everything_even_after_mariadb_forgot_update_times(conduit_server):
    server = conduit_server
    server.reset()
    project = server.create_project("Growth-Team", "growth-team")
    task = server.create_task("Úkol", projects=[project])
    # MariaDB keeps UPDATE_TIME in memory only and forgets it when a table leaves the table-definition
    # cache (400 tables by default; a namespace has about 500), which no statement forces at will.
    # Here it is forgotten by moving the mark past every write: only the checksums can find them now.
    server._reset_mark = 2**31 - 1
    server.reset()
    assert server.call("maniphest.search", {})["data"] == []
    assert server.call("project.search", {"constraints": {"slugs": ["growth-team"]}})["data"] == []
    again = server.create_project("Growth-Team", "growth-team")       # the slug is free again
    assert again != project and server.create_task("Úkol", projects=[again]) == task
    assert sorted(server.users) == ["GrowthBot", "admin", "alice", "bob"]
    assert server.call("user.whoami", as_user="GrowthBot")["userName"] == "GrowthBot"
