"""HTTP stand-ins for what cannot run here (GitHub, Harbor, Argo CD, the Kubernetes API), after the
vendors' API documents."""
