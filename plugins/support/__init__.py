"""What plugins of every kind share, apart from their contracts.

- `masking`: the one masker that hides secrets in any text shown;
- `options`: typed plugin options (`PluginOptions`), read from the settings'
  strings and refused with an error that names the option;
- `kube_config`, `kube_api`, `kube_logs`: one way to reach a Kubernetes API
  server, one client wrapper (calls in threads, failures as the plugin's own
  errors) and log streams read in threads;
- `tracing`: how a plugin's spans join the trace of the release step that
  called it;
- `repo_paths`: which paths may name a file in a git tree;
- `dns_names`: Kubernetes' name rules (DNS-1123 labels and subdomains), which
  the server's own name checks use too;
- `git_isolation`: the environment every git command starts from: nothing
  of the server's but PATH, no user or system git config, no prompts;
- `git_source`: how git fetches a source safely: in a bare environment,
  with its credential in a header, pinned to the checked address.

Plugin implementations import only their kind's contract, `plugins.errors`,
this package and their own SDKs. Each module is imported on its own, so a
plugin loads only the SDKs it uses.
"""
