"""Builder plugins: buildah on this machine, kaniko (or buildah) Jobs in a cluster."""
