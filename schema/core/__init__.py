"""The machinery every domain of the schema shares: the typed context and its
DataLoaders, Relay connections and global ids, typed errors and the mutation
helper that maps domain errors onto them, permission classes, request limits,
selection cost, text checks, client info and subscriptions that end with their
caller's rights. It imports no domain of the schema."""
