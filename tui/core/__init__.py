"""The non-UI core: detection, key store, Rundeck configuration. Never imports Textual."""
