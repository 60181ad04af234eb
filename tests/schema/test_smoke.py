from tests.factories import Factory
from tests.graphql import GraphQLClient


async def test_me(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    result = await gql("{ me { username status isAdmin } }", token=alice.token)
    assert result["me"] == {"username": "alice", "status": "ACTIVE", "isAdmin": False}
