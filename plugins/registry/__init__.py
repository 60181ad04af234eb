"""Registry plugins: the CNCF distribution registry and Harbor."""
