"""Repository tools (documentation generators); not deployed with the function app."""
