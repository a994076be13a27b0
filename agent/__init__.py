"""Private support agent: answers customers only from curated help-center articles, all on-premises."""

from agent.runtime.process import harden_environment

harden_environment()  # before any ML/UI library is imported anywhere in the process

from agent.answering.assistant import Answer, Citation, SupportAgent  # noqa: E402
from agent.errors import AgentError, ConfigError, KnowledgeError, MessageError, ModelError  # noqa: E402
from agent.settings import Settings, load_settings  # noqa: E402
from agent.wiring import build_agent  # noqa: E402

__all__ = [
    "AgentError",
    "Answer",
    "Citation",
    "ConfigError",
    "KnowledgeError",
    "MessageError",
    "ModelError",
    "Settings",
    "SupportAgent",
    "build_agent",
    "load_settings",
]
