"""account-audit: nightly audit of portal accounts and Mailgun events."""

# The single source of the version (pyproject reads it through hatch); a literal keeps `import audit`
# from loading importlib.metadata, which costs a fifth of a second on every command.
__version__ = "0.1.0"

__all__ = ["__version__"]
