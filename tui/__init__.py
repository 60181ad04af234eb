"""home-idp's terminal dashboard (Textual). It talks to the gateway over GraphQL only."""
