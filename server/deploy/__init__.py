"""deploy-manager: releases and their steps (commit, build, manifests, sync, rollout), the
webhooks that move them on, and the running app's logs and resources."""
