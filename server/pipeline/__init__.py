"""The release engine: durable queue, step runner, reconciler and release events."""
