"""The terminal dashboard, driven with Textual's Pilot (and tmux) against a real server."""
