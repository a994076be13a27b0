"""Private support agent: answers customers only from curated help-center articles, all on-premises.

Importing this package has no side effects and loads nothing heavy: the names below are imported on
first use. An entry point calls `harden_process(settings)` first, then `build_services(settings)`
(see docs/architecture.md).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.answering.answer import Answer, Citation
    from agent.answering.assistant import SupportAgent
    from agent.errors import AgentError, ConfigError, KnowledgeError, MessageError, ModelError
    from agent.runtime.process import harden_process
    from agent.settings import Settings, load_settings
    from agent.wiring import Services, build_agent, build_services

_EXPORTS = {
    "AgentError": "agent.errors",
    "Answer": "agent.answering.answer",
    "Citation": "agent.answering.answer",
    "ConfigError": "agent.errors",
    "KnowledgeError": "agent.errors",
    "MessageError": "agent.errors",
    "ModelError": "agent.errors",
    "Services": "agent.wiring",
    "Settings": "agent.settings",
    "SupportAgent": "agent.answering.assistant",
    "build_agent": "agent.wiring",
    "build_services": "agent.wiring",
    "harden_process": "agent.runtime.process",
    "load_settings": "agent.settings",
}

__all__ = [
    "AgentError",
    "Answer",
    "Citation",
    "ConfigError",
    "KnowledgeError",
    "MessageError",
    "ModelError",
    "Services",
    "Settings",
    "SupportAgent",
    "build_agent",
    "build_services",
    "harden_process",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
