"""News sources: RSS/Atom feeds over HTTP and the replay of a bundled news file."""
