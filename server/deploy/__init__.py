"""deploy-manager: releases and their steps (commit, build, manifests, sync, rollout,
the stability watch after it), automatic rollback and each release's settings snapshot,
the releases a source push, a poll or "deploy now" starts, the webhooks that move them
on, the running app's logs and resources, and tearing apps down."""
