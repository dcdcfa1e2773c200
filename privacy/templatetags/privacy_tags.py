"""The consent banner of the family pages, and small helpers of the privacy templates."""

from __future__ import annotations

from typing import Any

from django import template

from privacy import selectors

register = template.Library()


@register.inclusion_tag("privacy/_consent_banner.html", takes_context=True)
def consent_banner(context: template.Context) -> dict[str, Any]:
    """Tell a guardian how many consent questions wait for their answer (not asked, or asked again).

    A page that has already counted them (the consent page) passes `consent_needs_answer`, saving the queries.
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(user, "guardian"):
        return {"count": 0}
    count = context.get("consent_needs_answer")
    if count is None:
        count = selectors.needs_answer(user)
    match = getattr(request, "resolver_match", None)
    return {"count": count, "on_consent_page": bool(match and match.url_name == "family-consents")}


@register.filter
def erasure_report(outcome: dict[str, Any]) -> dict[str, list[Any]]:
    """Gather what each app erased and kept (an erasure request's outcome) into one list of each."""
    erased: list[str] = []
    kept: list[dict[str, str]] = []
    for part in (outcome or {}).values():
        if isinstance(part, dict):
            erased += part.get("erased", [])
            kept += part.get("kept", [])
    return {"erased": erased, "kept": kept}


FAMILY_STATES = {
    "granted": "Agreed",
    "refused": "Not agreed",
    "withdrawn": "Consent withdrawn",
    "needs_reconsent": "The text changed: please answer again",
    "not_asked": "Waiting for an answer",
}
STAFF_STATES = {
    "granted": "Agreed",
    "refused": "Not agreed",
    "withdrawn": "Withdrawn",
    "needs_reconsent": "Asked again",
    "not_asked": "No answer",
}
VERBS = {"granted": "agreed", "refused": "did not agree", "withdrawn": "withdrew consent"}
METHODS = {
    "family_page": "on the family pages",
    "paper_form": "on a paper form the school entered",
    "api": "through an app",
}


@register.filter
def family_state(state: str) -> str:
    """A child's combined consent state, in a parent's words."""
    return FAMILY_STATES.get(state, state)


@register.filter
def staff_state(state: str) -> str:
    """A child's combined consent state, as the coverage page counts it."""
    return STAFF_STATES.get(state, state)


@register.filter
def decision_verb(decision: str) -> str:
    return VERBS.get(decision, decision)


@register.filter
def method_phrase(method: str) -> str:
    return METHODS.get(method, method)
