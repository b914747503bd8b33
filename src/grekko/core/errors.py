"""One error tree, so callers can catch Grekko failures without catching programming bugs."""


class GrekkoError(Exception):
    """Base of every error Grekko raises on purpose."""


class ConfigError(GrekkoError):
    """Settings or a command line that cannot be used as given."""


class DataError(GrekkoError):
    """Input data (a file, a feed message) that fails validation."""


class InvalidStateTransition(GrekkoError):
    """An aggregate was asked to move to a state its state machine forbids."""


class ConcurrencyError(GrekkoError):
    """An event-store append whose expected version no longer matches the stream."""


class RoutingError(GrekkoError):
    """A command with no handler, or a second handler for one command."""


class PluginError(GrekkoError):
    """A plugin that cannot be found, loaded or moved through its lifecycle."""


class VenueError(GrekkoError):
    """A venue that refused or failed a request."""
