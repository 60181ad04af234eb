"""DataLoaders: the project list with members costs the same queries for any page size."""

from __future__ import annotations

from tests.factories import Factory
from tests.graphql import GraphQLClient
from tests.querycount import count_queries

QUERY = """query($first: Int!) {
  projects(first: $first) {
    edges { node { name members { edges { node { user { username } role { name } } } } } }
  }
}"""


async def test_query_count_does_not_grow_with_the_page_size(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    alice = await factory.user("alice")
    for index in range(5):
        await factory.user(f"user{index}")
    for index in range(20):
        await factory.project(f"p{index}", alice="maintainer", **{f"user{index % 5}": "viewer"})

    counts = {}
    for first in (2, 20):
        for caller in (admin, alice):
            with count_queries() as counter:
                result = await gql(QUERY, {"first": first}, token=caller.token)
            assert len(result["projects"]["edges"]) == first
            members = result["projects"]["edges"][0]["node"]["members"]["edges"]
            assert {m["node"]["role"]["name"] for m in members} == {"maintainer", "viewer"}
            counts[(first, caller.user.username)] = counter.count
    assert counts[(2, "root")] == counts[(20, "root")]
    assert counts[(2, "alice")] == counts[(20, "alice")]
    # Bounded by a small constant: auth, projects, members, users, roles (+ rules).
    assert 3 <= counts[(20, "alice")] <= 8, counts
