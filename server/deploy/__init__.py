"""deploy-manager: releases and their steps (commit, build, manifests, sync, rollout), the
releases a source push, a poll or "deploy now" starts, the webhooks that move them on,
the running app's logs and resources, and tearing apps down."""
