"""Typed errors whose messages say what happened and what to do next."""


class AgentError(Exception):
    """Base of every error the agent reports to a person."""


class ConfigError(AgentError):
    """The configuration is invalid."""


class ModelError(AgentError):
    """A model file is missing, corrupt or cannot be loaded."""


class KnowledgeError(AgentError):
    """The knowledge folder cannot be read."""


class IndexNotReadyError(AgentError):
    """The search index is missing or unusable."""


class MessageError(AgentError):
    """A customer message cannot be processed (empty, too long)."""
