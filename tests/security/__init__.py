"""The attacks of the security model, each made against the real server or component."""
