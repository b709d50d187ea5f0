"""The REST API: a second front door beside the pages (docs/api.md, docs/decisions/0004-layers.md)."""
