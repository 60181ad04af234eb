"""The chart that installs home-idp itself: rendering, values, RBAC grants and the image's
Dockerfile."""
