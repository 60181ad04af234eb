"""The dashboard's screens: login, the dashboard, a release, traces and administration."""
