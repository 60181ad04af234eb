"""The server's core: settings, keys, the CLI, migrations, git over HTTP, health."""
