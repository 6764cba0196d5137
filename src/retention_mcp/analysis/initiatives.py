"""The initiative catalog (``tools/initiatives.yaml``): what common retention programmes achieved elsewhere, with
the strength of that evidence, and the low / base / high reduction estimate_impact runs them with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from retention_mcp.errors import InputError


class InitiativeSource(BaseModel):
    citation: str = Field(min_length=10)
    url: str = Field(min_length=8)
    design: str
    finding: str


class Effect(BaseModel):
    kind: Literal["sourced", "assumption"]
    low: float = Field(gt=0, le=1)
    base: float = Field(gt=0, le=1)
    high: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def ordered(self) -> Effect:
        if not self.low <= self.base <= self.high:
            raise ValueError("low <= base <= high")
        return self


class Initiative(BaseModel):
    id: str = ""
    name_en: str
    name_zh: str
    aliases: list[str] = []
    applies_to: dict[str, str]
    default_segment: dict[str, Any] | None = None
    effect: Effect
    strength: Literal["strong", "moderate", "weak", "none"]
    basis: str = Field(min_length=10)
    sources: list[InitiativeSource | Literal["assumption"]] = Field(min_length=1)

    @model_validator(mode="after")
    def sourced_needs_a_source(self) -> Initiative:
        if self.effect.kind == "sourced" and not any(isinstance(s, InitiativeSource) for s in self.sources):
            raise ValueError("a sourced effect needs a source with citation and URL")
        return self


def load_initiatives(raw: Any) -> dict[str, Initiative]:
    """Validate the catalog; an initiative without sources (or the word assumption) is refused by id."""
    table = (raw or {}).get("initiatives") if isinstance(raw, Mapping) else None
    if not isinstance(table, Mapping) or not table:
        raise InputError("the initiative catalog needs an 'initiatives' mapping; check initiatives.yaml")
    out = {}
    for key, entry in table.items():
        try:
            out[str(key)] = Initiative.model_validate({**(entry or {}), "id": str(key)})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(f"initiative {key} is invalid at {where}: {first['msg']}; fix initiatives.yaml") from None
    return out


def find_initiative(catalog: Mapping[str, Initiative], name: str) -> Initiative:
    wanted = str(name).strip().lower().replace("-", "_")
    for key, entry in catalog.items():
        if wanted in {key, entry.name_en.lower(), entry.name_zh, *(a.lower() for a in entry.aliases)}:
            return entry
    raise InputError(f"unknown initiative {name!r}; the catalog has: "
                     + ", ".join(f"{k} ({v.name_zh})" for k, v in catalog.items()))


class InitiativeScenario(BaseModel):
    scenario: Literal["low", "base", "high"]
    reduction: float = Field(description="fall in the segment's rate, a fraction")
    avoided_leavers: float = Field(description="leavers avoided per year")
    new_overall_rate: float = Field(description="annual turnover under this scenario: calculate_roi's target")


class InitiativeUsed(BaseModel):
    id: str
    name: str
    evidence: str = Field(description="sourced (a study gives the number) or assumption")
    strength: str = Field(description="strong, moderate, weak or none, with what it means")
    basis: str
    sources: list[str] = Field(description="citation — design — finding, or 'assumption'")
    scenarios: list[InitiativeScenario] = Field(description="low / base / high for the sensitivity analysis")


def initiative_used(entry: Initiative, raw: Mapping[str, Any], *, avoided_base: float, current_rate: float,
                    new_rate_base: float, language: str = "en") -> InitiativeUsed:
    """The initiative as applied: the result was computed with the base reduction; the low and high ends scale
    it (avoided leavers and the cut in the overall rate are linear in the segment's reduction)."""
    strength = ((raw.get("strength_levels") or {}).get(entry.strength) or {}).get("zh" if language == "zh" else "en")
    scenarios = []
    for scenario in ("low", "base", "high"):
        reduction = getattr(entry.effect, scenario)
        share = reduction / entry.effect.base
        scenarios.append(InitiativeScenario(
            scenario=scenario, reduction=reduction, avoided_leavers=avoided_base * share,
            new_overall_rate=current_rate - (current_rate - new_rate_base) * share))
    sources = [s if isinstance(s, str) else f"{s.citation} — {s.design} — {s.finding} <{s.url}>" for s in entry.sources]
    return InitiativeUsed(id=entry.id, name=entry.name_zh if language == "zh" else entry.name_en,
                          evidence=entry.effect.kind, strength=f"{entry.strength}: {strength}", basis=entry.basis,
                          sources=sources, scenarios=scenarios)
