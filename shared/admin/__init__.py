"""Admin operations (docs/reference/roles.md, `admin`): tenant settings."""
