"""Keys derived from the deployment's secrets: encryption for secrets we must read back,
and the keyring that signs the audit chain. A leaf: it knows settings, nothing else of ours."""
