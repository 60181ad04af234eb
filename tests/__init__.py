"""home-idp's tests: a fast tier on in-memory fakes of the plugins, and a system tier (marked) on
the real components."""
