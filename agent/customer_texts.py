"""What customers read, in German and English: notices, the handoff, unsure and busy answers, examples.

Part of the settings (same names in the environment and the TOML file); kept apart so the settings
module stays about how the agent runs.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class CustomerTexts(BaseModel):
    """The customer-facing texts of the settings."""

    privacy_notice_en: str = Field(
        "An AI assistant answers you, using only our help-center articles. If you choose to keep the "
        "conversation, we store it encrypted for {retention_days} days to answer follow-ups and improve "
        "our help center, then delete it. Personal data such as e-mail addresses or phone numbers is "
        "removed from your messages before the AI sees them. You can download or delete your conversation "
        "at any time with your reference code. Questions: {contact}.",
        description="Short notice shown before the first message (English). {retention_days} and {contact} "
        "are filled in.",
    )
    privacy_notice_de: str = Field(
        "Ihnen antwortet ein KI-Assistent, ausschließlich auf Grundlage unserer Hilfeartikel. Wenn Sie "
        "das Gespräch speichern lassen, bewahren wir es {retention_days} Tage verschlüsselt auf, um "
        "Rückfragen zu beantworten und unser Hilfe-Center zu verbessern, und löschen es danach. "
        "Personenbezogene Daten wie E-Mail-Adressen oder Telefonnummern werden aus Ihren Nachrichten "
        "entfernt, bevor die KI sie sieht. Mit Ihrem Referenzcode können Sie das Gespräch jederzeit "
        "herunterladen oder löschen. Fragen: {contact}.",
        description="Short notice shown before the first message (German). {retention_days} and {contact} "
        "are filled in.",
    )
    ai_notice_en: str = Field(
        "You are chatting with an AI assistant. It answers only from our help-center articles and "
        "may make mistakes. You can ask for a human at any time.",
        description="Notice shown above the chat (English).",
    )
    ai_notice_de: str = Field(
        "Sie chatten mit einem KI-Assistenten. Er antwortet nur auf Grundlage unserer Hilfeartikel "
        "und kann sich irren. Sie können jederzeit einen Menschen sprechen.",
        description="Notice shown above the chat (German).",
    )
    example_questions: list[str] = Field(
        default_factory=lambda: [
            "Wie lange habe ich Zeit, etwas zurückzuschicken?",
            "Kann ich auf Rechnung bezahlen?",
            "How long does delivery to Austria take?",
            "How do I get my personal data deleted?",
        ],
        description="Example questions offered under the chat box.",
    )
    handoff_en: str = Field(
        "I'm sorry, our help center does not cover this question. A member of our support team can "
        "help: write to support@nordlicht-shop.example or call +49 30 1234 5678 (Mon–Fri 9:00–18:00).",
        description="Answer when the help center does not cover a question (English).",
    )
    handoff_de: str = Field(
        "Das tut mir leid, dazu gibt es in unserem Hilfe-Center keinen Artikel. Unser Support-Team "
        "hilft Ihnen gern: support@nordlicht-shop.example oder +49 30 1234 5678 (Mo–Fr 9–18 Uhr).",
        description="Answer when the help center does not cover a question (German).",
    )
    # The model read articles for the question, but nothing it wrote held up against them (or it said they
    # do not cover it): "no article" would be untrue when the customer just saw which ones were read.
    unsure_en: str = Field(
        "I'm sorry, I could not find a reliable answer to this in our help-center articles. A member of "
        "our support team can help: write to support@nordlicht-shop.example or call +49 30 1234 5678 "
        "(Mon–Fri 9:00–18:00).",
        description="Answer when the articles read for a question gave no reliable answer (English).",
    )
    unsure_de: str = Field(
        "Das tut mir leid, darauf habe ich in unseren Hilfeartikeln keine verlässliche Antwort gefunden. "
        "Unser Support-Team hilft Ihnen gern: support@nordlicht-shop.example oder +49 30 1234 5678 "
        "(Mo–Fr 9–18 Uhr).",
        description="Answer when the articles read for a question gave no reliable answer (German).",
    )
    busy_en: str = Field(
        "Sorry, a lot of customers are asking right now. Please try again in a minute – or talk to a "
        "human: write to support@nordlicht-shop.example or call +49 30 1234 5678 (Mon–Fri 9:00–18:00).",
        description="Answer when too many customers wait for the model (English).",
    )
    busy_de: str = Field(
        "Entschuldigung, gerade fragen sehr viele Kunden gleichzeitig. Bitte versuchen Sie es in einer "
        "Minute noch einmal – oder sprechen Sie mit einem Menschen: support@nordlicht-shop.example oder "
        "+49 30 1234 5678 (Mo–Fr 9–18 Uhr).",
        description="Answer when too many customers wait for the model (German).",
    )

    def handoff_text(self, language: str) -> str:
        """The 'not covered, here is a human' answer in the customer's language."""
        return self.handoff_de if language == "de" else self.handoff_en

    def ai_notice(self, language: str) -> str:
        """The AI notice in the given language."""
        return self.ai_notice_de if language == "de" else self.ai_notice_en
