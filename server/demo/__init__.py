"""`home-idp demo`: the whole flow on one machine, on the embedded defaults."""
