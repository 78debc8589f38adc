"""Custom search attributes: ids and stages only, never names or emails.

They make the Temporal UI useful for operators, e.g. ``ProgramId="rm-pilot-2027" AND AtRisk=true``.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PROGRAM_ID = SearchAttributeKey.for_keyword("ProgramId")
PAIRING_STAGE = SearchAttributeKey.for_keyword("PairingStage")
AT_RISK = SearchAttributeKey.for_bool("AtRisk")
OUTCOME = SearchAttributeKey.for_keyword("Outcome")

ALL = (PROGRAM_ID, PAIRING_STAGE, AT_RISK, OUTCOME)

# name -> type as the dev server's --search-attribute flag spells it
DEV_SERVER_TYPES = {"ProgramId": "Keyword", "PairingStage": "Keyword", "AtRisk": "Bool", "Outcome": "Keyword"}
