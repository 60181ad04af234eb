"""The deploy-manager and the apps room: apps, Dockerfiles, config, webhooks, the release flow."""
