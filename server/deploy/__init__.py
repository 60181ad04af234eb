"""deploy-manager: apps, Dockerfile versions, releases and their steps."""
