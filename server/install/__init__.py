"""install-manager: the dependencies home-idp needs, installed and watched."""
