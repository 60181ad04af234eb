"""Git plugins: the platform repo as a local bare repo or on GitHub."""
