"""Use cases behind the CLI: each builds through bootstrap, runs, and reports to a person."""
