"""Deployer plugins: a container engine here, the Kubernetes API, Argo CD."""
