"""The grounding guard: planted inventions and wrong facts are removed before a customer sees them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent.answering.assistant import SupportAgent
from agent.answering.guard import GroundingGuard, GuardPolicy, unsupported_facts
from agent.answering.language import detect_language
from agent.answering.prices import asks_price, states_price
from agent.answering.sentences import complete_sentences, split_sentences
from agent.knowledge.retrieval import Source
from agent.wiring import agent_policy, build_retriever
from tests.conftest import make_settings
from tests.fakes import LoopingGenerator, ReadingGenerator, ScriptedGenerator
from ui.chat_turn import format_answer

RETURNS = Source(
    article_id="en-returns",
    title="Returning an item",
    url="https://help.example/returns",
    language="en",
    collection="returns",
    score=0.9,
    passages=[
        "You can return items within 30 days of delivery. The return label is free for Germany and Austria; "
        "other EU countries pay €6.90. Questions: support@nordlicht-shop.example or +49 30 1234 5678."
    ],
)


@pytest.fixture(scope="module")
def guard(embedder) -> GroundingGuard:
    return GroundingGuard(embedder)


def test_supported_sentence_is_kept_and_credited(guard: GroundingGuard) -> None:
    verdict = guard.check("You can send items back within 30 days of delivery.", [RETURNS])
    assert verdict.supported and verdict.source_id == "en-returns"


def test_planted_invention_is_removed(guard: GroundingGuard) -> None:
    verdict = guard.check("Every customer also gets a free pizza voucher on Fridays.", [RETURNS])
    assert not verdict.supported


@pytest.mark.parametrize(
    "sentence",
    [
        "Other EU countries pay €9.90 for the return label.",  # wrong price
        "You can return items within 60 days of delivery.",  # wrong duration
        "Write to help@nordlicht-shop.example with questions.",  # invented e-mail
        "Call us on +49 30 9999 0000.",  # invented phone number
        "See https://nordlicht-shop.example/returns-portal for details.",  # invented URL
    ],
)
def test_wrong_facts_are_removed(guard: GroundingGuard, sentence: str) -> None:
    verdict = guard.check(sentence, [RETURNS])
    assert not verdict.supported
    assert verdict.unsupported_facts


def test_answer_about_a_topic_the_passages_do_not_cover_is_removed(guard: GroundingGuard) -> None:
    # Every fact and most words occur in the passage, but the customer asked about something else.
    question = "whats the direct phone number of your erfurt warehouse?"
    verdict = guard.check(
        "The direct phone number of our warehouse is +49 30 1234 5678.", [RETURNS], question
    )
    assert not verdict.supported
    assert {"direct", "warehouse"} <= set(verdict.unsupported_facts)
    # the same words are fine when the passage is about them
    fine = guard.check("Call +49 30 1234 5678 with questions.", [RETURNS], "whats your phone number?")
    assert fine.supported


def _source(article_id: str, language: str, *passages: str) -> Source:
    return Source(
        article_id, article_id, f"https://help.example/{article_id}", language, "help", 0.9, list(passages)
    )


SHIPPING = _source(
    "en-shipping",
    "en",
    "Standard delivery within Germany costs €4.90 and takes 2-3 working days.",
    "Express parcels arrive the next working day for €9.90. Express is not available to the Canary Islands.",
)
ERSTATTUNG = _source(
    "de-erstattung",
    "de",
    "Wurde die Erstattung bereits veranlasst, erhalten Sie eine E-Mail. Das Geld ist dann in 3-5 Werktagen "
    "auf Ihrem Konto.",
)
RETOUREN = _source(
    "de-ruecksendung",
    "de",
    "Sie können Artikel innerhalb von 30 Tagen nach Lieferung zurücksenden. Das Rücksendeetikett ist für "
    "Deutschland und Österreich kostenlos.",
)


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        # The shapes the 1.5B model produced on a help center we did not write: the customer's own words
        # with a "Yes" in front. None of them says anything the passage states beyond the question.
        ("Can I return a sale item after 40 days?", "Yes, you can return a sale item after 40 days."),
        ("Muss ich die Rücksendung selbst bezahlen?", "Ja, Sie müssen die Rücksendung selbst bezahlen."),
        (
            "Kann ich Artikel nach Lieferung zurücksenden?",
            "Ja, Sie können Artikel nach Lieferung zurücksenden.",
        ),
    ],
)
def test_restating_the_question_with_yes_is_not_support(
    guard: GroundingGuard, question: str, sentence: str
) -> None:
    assert not guard.check(sentence, [RETOUREN, RETURNS, ERSTATTUNG], question).supported


def test_yes_needs_the_passage_to_say_it(guard: GroundingGuard) -> None:
    question = "what about express to the canaries?"
    wrong = guard.check("Express delivery is available to the Canary Islands.", [SHIPPING], question)
    assert not wrong.supported and "yes/no" in wrong.unsupported_facts
    right = guard.check("Express delivery is not available to the Canary Islands.", [SHIPPING], question)
    assert right.supported
    # a yes the passage states, with what it adds beyond the question, is kept
    answered = guard.check(
        "Ja, innerhalb von 30 Tagen nach Lieferung.", [RETOUREN], "Kann ich Artikel zurücksenden?"
    )
    assert answered.supported


LIEFERZEITEN = _source(
    "de-lieferzeiten",
    "de",
    "[Unser Versandpartner: DHL GoGreen] Wir versenden alle Bestellungen mit **DHL** im klimafreundlichen "
    "Service **GoGreen**.",
)


def test_the_option_of_an_either_or_question_the_articles_name_is_an_answer(guard: GroundingGuard) -> None:
    # Measured on the dev set: "DHL bringt Ihre Sachen." is made of the customer's words only, yet it is
    # the answer – the article names DHL and no article names Hermes.
    question = "welcher paketdienst bringt eure sachen, dhl oder hermes?"
    picked = guard.check("DHL bringt Ihre Sachen.", [LIEFERZEITEN, RETOUREN], question)
    assert picked.supported and picked.source_id == "de-lieferzeiten"
    # the option no article names, while one names the other, is dropped
    wrong = guard.check("Hermes bringt Ihre Sachen.", [LIEFERZEITEN, RETOUREN], question)
    assert not wrong.supported and "the articles name the other option" in wrong.unsupported_facts
    # naming both is no pick, and words the passage lacks still need support of their own
    assert not guard.check("DHL oder Hermes bringt Ihre Sachen.", [LIEFERZEITEN], question).supported
    assert not guard.check("DHL bringt Ihre Sachen per Drohne.", [LIEFERZEITEN], question).supported
    # a question that offers no choice gains nothing from the rule
    assert not guard.check("DHL bringt Ihre Sachen.", [LIEFERZEITEN], "wer bringt eure sachen?").supported


ZAHLUNGSARTEN = _source(
    "de-zahlungsarten",
    "de",
    "Wir akzeptieren PayPal, Kreditkarte und Kauf auf Rechnung.\n- **Keine Zahlung per Nachnahme.**\n"
    "- **Nur Euro:** Wir akzeptieren ausschließlich Zahlungen in Euro (EUR).",
)


def test_a_yes_about_what_the_articles_only_deny_is_dropped(guard: GroundingGuard) -> None:
    # Measured on the dev set: "geht auch nachnahme?" → "Ja, wir akzeptieren auch Zahlungen per Nachnahme."
    # was kept and cited: the passage sentence closest to it in words is the one about paying in euros.
    question = "geht auch nachnahme?"
    yes = guard.check("Ja, wir akzeptieren auch Zahlungen per Nachnahme.", [ZAHLUNGSARTEN], question)
    assert not yes.supported and any("nachnahme" in p for p in yes.unsupported_facts)
    # the article's statement that says no is the answer the model should have given
    assert yes.contradicted_by == (("de-zahlungsarten", "- **Keine Zahlung per Nachnahme.**"),)
    assert guard.check("Nein, Zahlung per Nachnahme ist nicht möglich.", [ZAHLUNGSARTEN], question).supported
    # …but not when the yes is wrong in more ways than that (a fact no passage has)
    priced = guard.check("Ja, Nachnahme kostet bei uns 5 € extra.", [ZAHLUNGSARTEN], question)
    assert not priced.supported and priced.contradicted_by == ()
    # …nor when a word of the question it repeats stands in a statement that says yes: "zahlen" in a
    # negative sentence of one article is no answer when another says PayPal is accepted (measured)
    rechnung = _source("de-rechnungskauf", "de", "Zahlen Sie rechtzeitig, dann entstehen keine Kosten.")
    paypal_yes = "Ja, Sie können mit PayPal zahlen."
    assert guard.check(paypal_yes, [rechnung], "kann man mit paypal zahlen").contradicted_by
    both = guard.check(paypal_yes, [rechnung, ZAHLUNGSARTEN], "kann man mit paypal zahlen")
    assert both.contradicted_by == ()
    # and a "no" about what the articles only offer: a statement that offers it is no answer to quote
    paypal = guard.check("Nein, wir akzeptieren kein PayPal.", [ZAHLUNGSARTEN], "geht paypal?")
    assert not paypal.supported and paypal.contradicted_by == ()
    offered = "Ja, wir akzeptieren PayPal und Kreditkarte."
    assert guard.check(offered, [ZAHLUNGSARTEN], "geht paypal?").supported


GUTSCHEINE = _source(
    "de-gutscheine",
    "de",
    "Ein Gutschein ist 3 Jahre gültig, gerechnet ab dem Ende des Jahres, in dem er gekauft wurde. Ein im "
    "Jahr 2026 gekaufter Gutschein gilt also bis zum 31.12.2029.",
)


def test_the_articles_example_is_no_answer_for_another_year(guard: GroundingGuard) -> None:
    # Measured on the dev set: the example's date was given to a customer whose voucher is from 2025.
    question = "hab zu weihnachten 2025 nen gutschein geschenkt bekommen, bis wann gilt der?"
    example = guard.check("Der Gutschein ist bis zum 31.12.2029 gültig.", [GUTSCHEINE], question)
    assert not example.supported and "the article's example for 2026" in example.unsupported_facts
    # the customer's own year, or no year asked: the passage answers it
    own = "hab 2026 einen gutschein gekauft, bis wann gilt der?"
    assert guard.check("Der Gutschein gilt bis zum 31.12.2029.", [GUTSCHEINE], own).supported
    rule = guard.check("Der Gutschein ist 3 Jahre gültig.", [GUTSCHEINE], question)
    assert rule.supported  # the rule, not the example, answers any year
    assert guard.check("Er gilt bis zum 31.12.2029.", [GUTSCHEINE], "wie lange gilt ein gutschein?").supported
    # Measured on the dev set: the customer's year repeated beside the example's date, the date in words.
    told = "Der Gutschein, den Sie zu Weihnachten 2025 erhalten haben, gilt bis zum 31. Dezember 2029."
    repeated = guard.check(told, [GUTSCHEINE], question)
    assert not repeated.supported and "the article's example for 2026" in repeated.unsupported_facts


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("how much is delivery within germany", True),
        ("was kostet bei euch der versand innerhalb deutschland", True),
        ("ab welchem bestellwert zahl ich kein porto mehr", True),
        ("above what order amount is shipping free?", True),
        ("hab die zahlungserinnerung verpennt, kostet die mahnung jetzt was?", True),
        ("wieviel muss ich für express bezahlen?", True),
        ("how much extra do you charge for sending a tent", True),
        ("how much time after checkout can i still undo my purchase", False),
        ("By how much did Harvard reduce its holdings?", False),
        ("Wie viele Punkte gab die Verteidigung ab?", False),
        ("wie lange dauert der versand?", False),
    ],
)
def test_what_a_price_question_is(question: str, asks: bool) -> None:
    assert asks_price(question) is asks


def test_a_price_question_is_not_answered_without_a_price(guard: GroundingGuard) -> None:
    # Measured with the 1.5B model on the dev set: "how much is delivery within germany" got "Delivery
    # within Germany usually takes 1-3 business days." – supported, cited, and no answer to the question.
    question = "how much is delivery within germany"
    when = guard.check("Standard delivery within Germany takes 2-3 working days.", [SHIPPING], question)
    assert not when.supported and "no price for a price question" in when.unsupported_facts
    assert guard.check("Standard delivery within Germany costs €4.90.", [SHIPPING], question).supported
    # the same sentence answers a question about the time it takes, and may follow the price
    assert guard.check(when.sentence, [SHIPPING], "how long is delivery within germany?").supported
    priced = ["Standard delivery within Germany costs €4.90."]
    assert guard.check(when.sentence, [SHIPPING], question, kept=priced).supported
    assert states_price("Rücksendungen aus Deutschland sind kostenlos.") and not states_price("in 2-3 Tagen")
    assert all(map(states_price, ["4,90 €", "EUR 4,90", "€4.90", "12 CHF", "$10 million"]))


def test_a_sentence_two_articles_state_cites_both(guard: GroundingGuard) -> None:
    # Measured on the demo: "wielange braucht ein paket nach österreich" was answered "2–4 Werktage" from
    # the tracking article, which says it as the delivery-times article does; only one was cited.
    tracking = _source(
        "en-tracking",
        "en",
        "Follow your parcel with DHL tracking. Parcels to Austria usually take 2–4 working days.",
    )
    times = _source("en-delivery-times", "en", "Parcels to Austria take 2–4 working days with DHL GoGreen.")
    question = "how long does a package to austria need?"
    both = guard.check("Parcels to Austria take 2–4 working days.", [tracking, times], question)
    assert both.supported and {both.source_id, *both.also} == {"en-tracking", "en-delivery-times"}
    # a sentence only one of them says is cited to that one alone
    one = guard.check("You can follow your parcel with DHL tracking.", [tracking, times], question)
    assert one.supported and one.source_id == "en-tracking" and one.also == ()


def test_a_short_answer_needs_the_passage_sentence_about_the_question(guard: GroundingGuard) -> None:
    # Measured on XQuAD: "Welches Fort wurde 1964 wiederaufgebaut?" → "Fort Caroline wurde 1964
    # wiederaufgebaut." adds one word to the question, the answer, and was dropped as restating it. One
    # word is enough when a passage sentence holds it together with the question's words.
    tracking = _source(
        "en-tracking",
        "en",
        "Our parcels are shipped with DHL GoGreen. Returns are collected by Hermes at your door.",
    )
    question = "which carrier ships your parcels?"
    assert guard.check("DHL ships the parcels.", [tracking], question).supported
    # the word is in the passage, but in a sentence about something else
    assert not guard.check("Hermes ships the parcels.", [tracking], question).supported
    # and one word beside the customer's own is still no answer to a yes/no-like statement
    kohle = guard.check(
        "Die Kohle ist bereits auf Ihrem Konto.", [ERSTATTUNG], "wann ist die kohle auf meinem konto?"
    )
    assert not kohle.supported


def test_a_question_in_the_article_says_neither_yes_nor_no(guard: GroundingGuard) -> None:
    # Measured on the demo: the password article opens with "Sie haben Ihr Passwort vergessen oder können
    # sich nicht mehr anmelden?"; its "nicht" made every answer sentence about the password a "no".
    passwort = _source(
        "de-passwort",
        "de",
        "Sie haben Ihr Passwort vergessen oder können sich nicht mehr anmelden? So setzen Sie Ihr Passwort "
        "unter **Mein Konto** mit **Passwort zurücksetzen** zurück.",
    )
    question = "komm nicht mehr in mein konto rein, pw vergessen"
    assert guard.check(
        "Klicken Sie unter Mein Konto auf Passwort zurücksetzen.", [passwort], question
    ).supported
    # a statement of the article still decides: its "nicht" makes the opposite claim a "no"
    express = guard.check("Express delivery is available to the Canary Islands.", [SHIPPING], "express?")
    assert not express.supported and "yes/no" in express.unsupported_facts


def test_a_fact_must_occur_in_the_passage_that_supports_the_sentence(guard: GroundingGuard) -> None:
    # Both prices are in the sources, but the standard-delivery passage says €4.90.
    wrong = guard.check("Standard delivery within Germany costs €9.90.", [SHIPPING], "shipping costs?")
    assert not wrong.supported and "9.90" in wrong.unsupported_facts
    right = guard.check("Standard delivery within Germany costs €4.90.", [SHIPPING], "shipping costs?")
    assert right.supported and right.source_id == "en-shipping"


def test_a_gap_left_for_a_fact_is_dropped(guard: GroundingGuard) -> None:
    # Measured with the 1.5B model for "an welche mail von eurer rechtsabteilung kann mein anwalt
    # schreiben" (not covered): "Die Adresse lautet: [Rechtsabteilungs-E-Mail-Adresse]." was kept.
    question = "Wohin schicke ich die Rücksendung?"
    gap = guard.check("Das Rücksendeetikett ist für [Land] kostenlos.", [RETOUREN], question)
    assert not gap.supported and "[Land]" in gap.unsupported_facts
    filled = guard.check("Das Rücksendeetikett ist für Deutschland kostenlos.", [RETOUREN], question)
    assert filled.supported


def test_pointing_to_an_article_is_no_answer(guard: GroundingGuard) -> None:
    # Measured: "die hose gefällt mir doch nicht, wie schick ich die wieder zu euch" got "… lesen Sie den
    # Artikel "Newsletter abbestellen und Cookies" in der Hilfezentrale." – supported by that title alone.
    question = "Die Hose gefällt mir nicht, wie schicke ich sie zurück?"
    newsletter = replace(
        _source("de-newsletter", "de", "Sie können den Newsletter jederzeit kostenlos abbestellen."),
        title="Newsletter abbestellen und Cookies",
    )
    pointer = 'Sie können den Artikel "Newsletter abbestellen und Cookies" in der Hilfe lesen.'
    verdict = guard.check(pointer, [RETOUREN, newsletter], question)
    assert not verdict.supported and any("Newsletter" in p for p in verdict.unsupported_facts)
    # nor is saying where the answer is, even in the article's own words (its introduction)
    intro = _source(
        "de-lieferzeiten", "de", "Hier finden Sie die Lieferzeiten für Standard- und Expressversand."
    )
    signpost = guard.check(
        "Hier finden Sie die Lieferzeiten für Standard- und Expressversand.", [intro], question
    )
    assert not signpost.supported
    # the article's own cross-reference, repeated, is what the passage says
    named = _source("de-ruecksendung", "de", "Mehr dazu im Artikel „Ware beschädigt angekommen“.")
    assert guard.check("Mehr dazu im Artikel „Ware beschädigt angekommen“.", [named], question).supported


def test_an_offer_of_more_help_is_no_answer(guard: GroundingGuard) -> None:
    # Measured with the 1.5B model: "got 2 dhl numbers by email, how do i know which one is yours" was
    # answered with only this sentence, supported by the delivery-address article's own words.
    question = "got 2 dhl numbers by email, how do i know which one is yours"
    address = _source(
        "en-change-address",
        "en",
        "If you have any other questions about your order or its delivery, our support team is happy to "
        "help: support@nordlicht-shop.example.",
    )
    offer = "If you have any other questions about your order or delivery, feel free to ask!"
    verdict = guard.check(offer, [address], question)
    assert not verdict.supported and "offers help instead of giving it" in verdict.unsupported_facts
    help_de = "Wenn Sie weitere Fragen zu Ihrer Rücksendung haben, helfen wir Ihnen gerne."
    returns = _source("de-ruecksendung", "de", f"Das Etikett ist kostenlos. {help_de}")
    assert not guard.check(help_de, [returns], "Wie schicke ich etwas zurück?").supported
    # with the contact detail it says where to ask, which answers "who do I ask?"
    contact = (
        "If you have any other questions, our support team is happy to help: support@nordlicht-shop.example."
    )
    assert guard.check(contact, [address], "who can i ask about my order?").supported


def test_german_answers_say_sie_unless_configured(guard: GroundingGuard, embedder) -> None:
    question = "Wie lange habe ich Zeit?"
    informal = "Du kannst Artikel innerhalb von 30 Tagen nach Lieferung zurücksenden."
    assert not guard.check(informal, [RETOUREN], question).supported
    formal = "Sie können Artikel innerhalb von 30 Tagen nach Lieferung zurücksenden."
    assert guard.check(formal, [RETOUREN], question).supported
    du_guard = GroundingGuard(embedder, GuardPolicy(formal_german=False))
    assert du_guard.check(informal, [RETOUREN], question).supported


def test_a_sentence_in_the_other_language_is_dropped(guard: GroundingGuard) -> None:
    # Measured with the 1.5B model: "telefonnummer vom lager in erfurt bitte" got "The telephone number
    # for the Nordlicht Store in Erfurt is +49 30 1234 5678." – English, and the support line at that.
    english = "You can return items within 30 days of delivery."
    assert guard.check(english, [RETURNS], "how long can I return?", "en").supported
    verdict = guard.check(english, [RETURNS], "wie lange kann ich zurückschicken?", "de")
    assert not verdict.supported and "not in de" in verdict.unsupported_facts
    # a German sentence may name an English label of the shop
    german = "Sie können Artikel innerhalb von 30 Tagen nach Lieferung zurücksenden, siehe „My orders“."
    assert guard.check(german, [RETOUREN], "Wie lange habe ich Zeit?", "de").supported


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("telefonnummer vom lager in erfurt bitte, will da direkt anrufen", "de"),
        ("wohn in belgien, geht bei euch lastschrift?", "de"),
        ("In welchem Jahr starb Tesla?", "de"),
        ("stop sending me marketing emails pls", "en"),
        ("when will my order arrive?", "en"),
    ],
)
def test_casual_questions_get_their_language(question: str, language: str) -> None:
    assert detect_language(question, default="?") == language


def test_facts_match_across_number_formats() -> None:
    corpus = RETURNS.passages[0]
    assert unsupported_facts("Andere EU-Länder zahlen 6,90 € für das Etikett.", corpus) == []
    assert unsupported_facts("Rufen Sie +49 (30) 1234-5678 an.", corpus) == []
    assert unsupported_facts("Es kostet 7,90 €.", corpus) == ["7,90"]
    assert unsupported_facts("Your order NL-2024-123456 is fine.", corpus + " NL-2024-123456") == []


def test_a_date_in_words_is_the_date_in_digits() -> None:
    corpus = GUTSCHEINE.passages[0]  # "… gilt also bis zum 31.12.2029."
    for sentence in [
        "Er gilt bis zum 31. Dezember 2029.",
        "It is valid until December 31, 2029.",
        "It is valid until 31 December 2029.",
        "Er gilt bis 2029.",
        "Er gilt bis zum 31. Dezember.",
    ]:
        assert unsupported_facts(sentence, corpus) == [], sentence
    assert unsupported_facts("Er gilt bis zum 31. Dezember 2028.", corpus) == ["31.12.2028"]
    assert unsupported_facts("Er gilt bis zum 30. Dezember 2029.", corpus) == ["30.12.2029"]
    assert unsupported_facts("Ab 1. März 2027 gilt er.", "Ab dem 01.03.2027 gilt er.") == []
    assert unsupported_facts("Es kostet 4.05.", "Es kostet 4,05 €.") == []  # a price, no date


def test_a_date_does_not_end_the_sentence() -> None:
    text = "Der Gutschein gilt bis zum 31. Dezember 2029. Danach verfällt er."
    assert split_sentences(text) == ["Der Gutschein gilt bis zum 31. Dezember 2029.", "Danach verfällt er."]
    done, rest = complete_sentences("Er gilt bis zum 31. Dezember 2029. Dan")
    assert done == ["Er gilt bis zum 31. Dezember 2029."] and rest == "Dan"
    # streamed: measured on the dev set, "**31." was a sentence while "Dezember" had not come yet
    assert complete_sentences("Er gilt bis zum **31. Dez") == ([], "Er gilt bis zum **31. Dez")
    assert complete_sentences("Es kostet 5. Dann kommt") == (["Es kostet 5."], "Dann kommt")


PAYMENT_METHODS = Source(
    article_id="en-payment-methods",
    title="Payment methods we accept",
    url="https://help.example/payment-methods",
    language="en",
    collection="payment",
    score=0.86,
    passages=[
        "[Cards and digital wallets]\n- **Visa**\n- **Mastercard**\n- **PayPal**\n- **Apple Pay**\n"
        "- **Google Pay**\nCard payments may ask you to confirm the purchase with 3-D Secure.",
        "[Not available]\nWe don't offer cash on delivery.",
    ],
)


def test_a_yes_stated_by_a_list_item_under_its_title_is_kept(guard: GroundingGuard) -> None:
    # Measured with the 1.5B model on the dev set: "Yes, we accept Apple Pay." was dropped for "do u take
    # apple pay" – the list item says only "Apple Pay"; the article's title says "we accept".
    kept = guard.check("Yes, we accept Apple Pay.", [PAYMENT_METHODS], "do u take apple pay", "en")
    assert kept.supported and kept.source_id == "en-payment-methods"
    # …a list without the asked thing, or a passage that says no, still proves nothing
    for question, sentence in [
        ("do u take cash on delivery", "Yes, we accept cash on delivery."),
        ("do u take klarna", "Yes, we accept Klarna."),
    ]:
        assert not guard.check(sentence, [PAYMENT_METHODS], question, "en").supported, sentence


def test_sentence_splitting_keeps_abbreviations_and_list_items() -> None:
    text = "Sie können z. B. per PayPal zahlen. Oder so:\n- Visa\n- Mastercard"
    assert split_sentences(text) == [
        "Sie können z. B. per PayPal zahlen.",
        "Oder so:",
        "- Visa",
        "- Mastercard",
    ]
    done, rest = complete_sentences("First one. Second one is still comi")
    assert done == ["First one."] and rest == "Second one is still comi"


def _agent(demo_data_dir: Path, embedder, text: str, **settings_changes: object) -> SupportAgent:
    settings = make_settings(demo_data_dir, **settings_changes)
    return SupportAgent(
        build_retriever(settings, embedder),
        ScriptedGenerator(text),
        agent_policy(settings),
        GroundingGuard(embedder),
    )


QUESTION = "how long do i have to send back a pair of trousers?"


def test_a_yes_the_article_denies_is_answered_with_the_articles_no(demo_data_dir: Path, embedder) -> None:
    # Measured on the dev set: "geht auch nachnahme?" was answered "Ja, wir akzeptieren auch Zahlungen per
    # Nachnahme.", dropped by the guard, and the customer handed off; the article says "Keine Zahlung per
    # Nachnahme."
    agent = _agent(demo_data_dir, embedder, "Ja, wir akzeptieren auch Zahlungen per Nachnahme.")
    answer = agent.ask("geht auch nachnahme?")
    assert not answer.refused and answer.extractive
    assert "Keine Zahlung per Nachnahme" in answer.text and "Ja" not in answer.text
    assert [c.id for c in answer.citations] == ["de-zahlungsarten"]
    assert answer.removed == ["Ja, wir akzeptieren auch Zahlungen per Nachnahme."]


def test_agent_drops_the_invented_sentence_and_wrong_price(demo_data_dir: Path, embedder) -> None:
    script = (
        "You can return items within 30 days of delivery. "
        "Returns from other EU countries cost €3.50. "
        "As a thank-you, every return earns you a free scarf."
    )
    answer = _agent(demo_data_dir, embedder, script).ask(QUESTION)
    assert answer.text == "You can return items within 30 days of delivery."
    assert len(answer.removed) == 2
    assert [c.id for c in answer.citations] == ["en-returns"]
    assert "3.50" not in answer.text and "scarf" not in answer.text


SURE = "how many days do I have to return an item?"  # dense search and BM25 both rank en-returns first


def test_nothing_supported_gives_a_quoted_passage(demo_data_dir: Path, embedder) -> None:
    answer = _agent(demo_data_dir, embedder, "Our CEO personally drives every parcel to you.").ask(SURE)
    assert answer.extractive and not answer.refused
    assert [c.id for c in answer.citations] == ["en-returns"]
    assert answer.text.startswith("Returning an item:")


def test_an_answer_only_from_another_article_gives_the_first_articles_passage(
    demo_data_dir: Path, embedder
) -> None:
    # Measured with the 1.5B model on the dev set: retrieval was sure of the returns article, the
    # exchange article was in the prompt as well, and the answer was its steps (supported, but about
    # exchanging a size, not what the customer asked).
    question = "ordered some trousers last week, dont like them, how do i send them back"
    script = '1. Go to My orders and open your order.\n2. Click "Exchange size" next to the item.'
    agent = _agent(demo_data_dir, embedder, script)
    reading = agent.retrieve_only(question).citations
    assert reading[0].id == "en-returns" and "en-exchange" in [c.id for c in reading]  # in the prompt
    answer = agent.ask(question)
    assert answer.extractive and [c.id for c in answer.citations] == ["en-returns"]
    assert answer.text.startswith("Returning an item:") and "Exchange size" in " ".join(answer.removed)
    shown = [partial.text for partial in agent.stream(question)]
    assert not any("Exchange size" in text for text in shown)  # never shown, then taken back
    # The same sentences are the answer when they come from the first article (or retrieval is unsure).
    script = "Go to My orders and open your order. Select the items you want to return."
    assert not _agent(demo_data_dir, embedder, script).ask(question).extractive


def test_when_every_sentence_is_dropped_the_next_article_is_read(demo_data_dir: Path, embedder) -> None:
    # Measured with the 1.5B model on the dev set: "how much is delivery within germany" was answered
    # from the delivery-times article alone ("… takes 1-3 business days": no price, dropped) and handed
    # off, while the shipping-costs article, retrieval's next, has the price. Here the model is scripted to
    # answer wrongly from whichever of the two the test index (no generated questions) ranks first.
    question = "how much is delivery within germany"
    # One article per reading, and no quote of the first (which the test index ranks surely enough):
    # the second reading replaces a handoff, never a quote.
    settings = make_settings(demo_data_dir, source_margin=0.0, min_relevance_to_quote=1.0)
    retriever = build_retriever(settings, embedder)
    first, second = [s.article_id for s in retriever.search(question)[:2]]
    assert {first, second} == {"en-delivery-times", "en-shipping-costs"}
    title = {"en-delivery-times": "Delivery times and carrier", "en-shipping-costs": "Shipping costs"}
    right = {
        "en-delivery-times": "Express delivery within Germany is available at checkout for €9.90.",
        "en-shipping-costs": "Express delivery within Germany costs €9.90.",
    }
    invented = "Delivery within Germany costs €2.50."

    def agent(answers: dict[str, str]) -> tuple[SupportAgent, ReadingGenerator]:
        model = ReadingGenerator(answers)
        return SupportAgent(retriever, model, agent_policy(settings), GroundingGuard(embedder)), model

    helped, model = agent({title[first]: invented, title[second]: right[second]})
    answer = helped.ask(question)
    assert model.read == [[title[first]], [title[second]]]  # the second reading has the next article alone
    assert not answer.refused and not answer.extractive
    assert answer.text == right[second] and [c.id for c in answer.citations] == [second]
    assert answer.removed == [invented]
    assert [c.id for c in answer.reading] == [first, second]

    # Nothing kept from the second reading either: handed off, listing both articles, nothing quoted.
    unhelped, model = agent({title[first]: invented, title[second]: "We deliver by drone for €1.00."})
    answer = unhelped.ask(question)
    assert answer.refused and answer.refusal == "guard" and not answer.extractive
    assert len(model.read) == 2 and len(answer.removed) == 2
    assert [c.id for c in answer.reading] == [first, second]

    # A kept sentence from the first reading is the answer: the model reads once.
    once, model = agent({title[first]: right[first]})
    answer = once.ask(question)
    assert len(model.read) == 1 and answer.text == right[first]


def test_no_quote_unless_the_rankings_agree(demo_data_dir: Path, embedder) -> None:
    # Measured with the 1.5B model: the dropped invention "The code word is …" left the returns article
    # quoted for a question it does not answer. Dense search ranks it first by cosine; BM25 only third.
    question = "whats the code word your agents use to accept returns after 30 days"
    answer = _agent(demo_data_dir, embedder, 'The code word is "Bluebird".').ask(question)
    assert answer.refused and answer.refusal == "guard" and not answer.extractive
    assert answer.retrieved[0] == "en-returns"


def test_an_article_every_ranking_puts_first_is_quoted_below_the_cosine_bar(
    demo_data_dir: Path, embedder
) -> None:
    # Another help center's cosine scale is lower throughout (XQuAD's long paragraphs): agreement of the
    # rankings carries over where a cosine bar does not.
    script = "Our CEO personally drives every parcel to you."
    answer = _agent(demo_data_dir, embedder, script, min_relevance_to_quote=0.99).ask(SURE)
    assert answer.extractive and [c.id for c in answer.citations] == ["en-returns"]


def test_no_quote_without_a_price_for_a_price_question(demo_data_dir: Path, embedder) -> None:
    # Measured on the dev set: with the time-it-takes sentence dropped, the article retrieval is sure of
    # would be quoted for "how much …" although its passage states no price.
    script = "Our CEO personally resets every password for you."
    agent = _agent(demo_data_dir, embedder, script)
    question = "how much does it cost to reset my password"
    assert agent.retrieve_only(question).citations[0].id == "en-password-reset"
    answer = agent.ask(question)
    assert answer.refused and answer.refusal == "guard" and not answer.extractive
    # the same article is quoted for a question that asks no price, and a passage with a price is quoted
    assert agent.ask("how do i reset my password").extractive
    assert agent.ask("how much is the return label from germany").extractive


def test_a_kept_introduction_without_what_it_introduced_is_no_answer(demo_data_dir: Path, embedder) -> None:
    # Measured: after everything else was dropped, "2. Verfahren:" alone was the answer to a recipe question.
    script = "Send items back like this:\n1. Call our CEO at home and ask him nicely."
    answer = _agent(demo_data_dir, embedder, script).ask(SURE)
    # the guard kept the introduction; dropped at the end, it is listed with the removed sentences
    assert answer.removed == ["1. Call our CEO at home and ask him nicely.", "Send items back like this:"]
    assert "like this" not in answer.text
    assert answer.extractive and [c.id for c in answer.citations] == ["en-returns"]
    longer = "You have 30 days from the day of delivery to send items back:\n1. Call our CEO at home."
    assert _agent(demo_data_dir, embedder, longer).ask(SURE).text == longer.splitlines()[0]


def test_digits_of_a_phone_number_do_not_support_a_number() -> None:
    # Measured with the 1.5B model: "Die Erstattung dauert innerhalb von 30 Tagen." passed because the
    # refunds article lists the phone number +49 30 1234 5678; the article says 14 days.
    passage = "Wir erstatten den Betrag innerhalb von 14 Tagen. Fragen: +49 30 1234 5678 (Mo–Fr)."
    assert unsupported_facts("Die Erstattung dauert innerhalb von 30 Tagen.", passage) == ["30"]
    assert unsupported_facts("Die Erstattung dauert innerhalb von 14 Tagen.", passage) == []
    assert unsupported_facts("Rufen Sie +49 30 1234 5678 an.", passage) == []


def test_off_topic_question_mid_chat_gets_a_handoff_not_a_quote(demo_data_dir: Path, embedder) -> None:
    # Measured with the 1.5B model: after a returns question, "Wie wird das Wetter morgen in Hamburg?"
    # borrowed the returns topic from the history and got a quote of the refunds article. That question
    # no longer borrows a topic (tests/test_fast_answers.py); one that points back still does, and must
    # never be answered with a quote of the borrowed article.
    agent = _agent(demo_data_dir, embedder, "Morgen wird es in Hamburg sonnig und warm.")
    history = [("Wie lange habe ich Zeit für eine Rücksendung?", "Sie haben 30 Tage ab Lieferung Zeit.")]
    answer = agent.ask("und wie wird das wetter dort morgen?", history=history)
    assert answer.follow_up and answer.refused and not answer.extractive
    assert "support@nordlicht-shop.example" in answer.text and answer.citations == []


def test_model_saying_not_covered_becomes_a_handoff(demo_data_dir: Path, embedder) -> None:
    answer = _agent(demo_data_dir, embedder, "NOT_COVERED").ask(QUESTION)
    assert answer.refused and answer.citations == []
    assert "support@nordlicht-shop.example" in answer.text


@pytest.mark.parametrize(
    "declined", ["We're sorry, but we can't assist with that.", "Dabei kann ich Ihnen leider nicht helfen."]
)
def test_the_model_declining_in_words_is_a_handoff(demo_data_dir: Path, embedder, declined: str) -> None:
    # Measured with the 1.5B model: "package came but one of the 3 shirts isnt in there" got "We're sorry,
    # but we can't assist with that.", kept on the damaged-delivery article's "We're sorry" and shown.
    answer = _agent(demo_data_dir, embedder, declined, min_relevance_to_quote=0.99).ask(QUESTION)
    assert answer.refused and answer.refusal == "model" and answer.citations == []


def test_not_covered_of_an_article_retrieval_is_sure_of_quotes_it(demo_data_dir: Path, embedder) -> None:
    # Measured on the dev set: 5 of 9 answerable questions the 1.5B model called NOT_COVERED had the right
    # article first in every ranking and well above the cosine bar.
    answer = _agent(demo_data_dir, embedder, "NOT_COVERED").ask(SURE)
    assert answer.extractive and not answer.refused
    assert [c.id for c in answer.citations] == ["en-returns"]
    # …but agreement alone, with a cosine below the bar, is not enough when the model said so
    agent = _agent(demo_data_dir, embedder, "NOT_COVERED", min_relevance_to_quote=0.99)
    assert agent.ask(SURE).refusal == "model"


def test_a_looping_model_is_stopped_and_said_once(demo_data_dir: Path, embedder) -> None:
    settings = make_settings(demo_data_dir)
    looping = LoopingGenerator("You can return items within 30 days of delivery.")
    agent = SupportAgent(
        build_retriever(settings, embedder), looping, agent_policy(settings), GroundingGuard(embedder)
    )
    answer = agent.ask(QUESTION)
    assert answer.text == "You can return items within 30 days of delivery."
    assert looping.closed and looping.produced < 5  # generation stopped at the first repeat


def test_each_handoff_says_why(demo_data_dir: Path, embedder) -> None:
    # the reports count false refusals by cause: retrieval, the model's NOT_COVERED, or the guard
    assert (
        _agent(demo_data_dir, embedder, "x").ask("Wie wird das Wetter morgen in Hamburg?").refusal
        == "retrieval"
    )
    assert _agent(demo_data_dir, embedder, "NOT_COVERED").ask(QUESTION).refusal == "model"
    answered = _agent(demo_data_dir, embedder, "You can return items within 30 days of delivery.").ask(
        QUESTION
    )
    assert not answered.refused and answered.refusal == ""


def test_a_handoff_after_reading_names_what_was_read_and_claims_no_missing_article(
    demo_data_dir: Path, embedder
) -> None:
    # Measured on the dev set: 12 of the 22 answerable questions the guard handed off had the right article
    # first. The customer saw "Reading: <article>" and was then told the help center had no article on it.
    settings = make_settings(demo_data_dir)
    question = "whats the code word your agents use to accept returns after 30 days"
    dropped = _agent(demo_data_dir, embedder, 'The code word is "Bluebird".').ask(question)
    assert dropped.refusal == "guard" and dropped.citations == []
    assert dropped.text == settings.unsure_en and dropped.reading[0].id == "en-returns"
    assert "*Articles I read: [Returning an item](" in format_answer(dropped)
    declined = _agent(demo_data_dir, embedder, "NOT_COVERED", min_relevance_to_quote=0.99).ask(
        "Wie lange habe ich Zeit für eine Rücksendung?"
    )
    assert declined.refusal == "model" and declined.text == settings.unsure_de
    assert "*Gelesene Artikel: [" in format_answer(declined)
    # Nothing read, nothing named: retrieval's handoff still says the help center does not cover it.
    outside = _agent(demo_data_dir, embedder, "x").ask("Wie wird das Wetter morgen in Hamburg?")
    assert outside.refusal == "retrieval" and outside.reading == []
    assert format_answer(outside) == outside.text == settings.handoff_de


def test_a_near_tie_answers_from_both_articles(demo_data_dir: Path, embedder) -> None:
    # Measured on the demo: "Rücksendung" asks about the return (de-ruecksendung) or the refund after it
    # (de-erstattung); their relevance differs by less than source_margin, so the model reads both and
    # each sentence is credited to the article that says it.
    script = (
        "Sie haben 30 Tage ab Lieferung Zeit, Artikel zurückzuschicken. "
        "Sobald das Paket in unserem Lager angekommen ist, erstatten wir den Betrag innerhalb von 14 Tagen."
    )
    answer = _agent(demo_data_dir, embedder, script).ask("Wie lange dauert meine Rücksendung?")
    assert {"de-erstattung", "de-ruecksendung"} <= {c.id for c in answer.reading}
    assert {c.id for c in answer.citations} == {"de-erstattung", "de-ruecksendung"}
    assert "30 Tage" in answer.text and "14 Tagen" in answer.text


def test_list_items_keep_their_number_and_the_number_is_no_fact(guard: GroundingGuard) -> None:
    answer = "So geht es:\n1. Sie können Artikel innerhalb von 30 Tagen nach Lieferung zurücksenden."
    assert split_sentences(answer)[-1].startswith("1. Sie können")
    verdict = guard.check(split_sentences(answer)[-1], [RETOUREN], "Wie schicke ich etwas zurück?")
    assert verdict.supported and verdict.sentence.startswith("1. ")
    # the simulation checks whole answers, list numbers included
    assert unsupported_facts("1. Go to My orders.\n2. Click Return.\n3. Print the label.", "My orders") == []
    assert split_sentences("Nach Art. 15 DSGVO haben Sie ein Recht auf Auskunft.") == [
        "Nach Art. 15 DSGVO haben Sie ein Recht auf Auskunft."
    ]
