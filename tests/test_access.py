"""Roles and scopes without a server: the tokens file's role words, when one access contains another, the narrowing a
server-side step may do, and the intake cutting a file to an access (rows, hidden columns, counts recomputed)."""

from __future__ import annotations

import pandas as pd
import pytest

from retention_mcp.access import EVERYTHING, NO_DATA, Access
from retention_mcp.data.dataset import dataset_from_frame, within_access
from retention_mcp.errors import InputError
from retention_mcp.http import parse_tokens_file
from retention_mcp.identity import Caller, current_caller, narrowed
from retention_mcp.settings import Settings

TOKEN = "t0ken-0123456789abcdef"
SETTINGS = Settings(data_dirs=(), log_level="WARNING")


def line(rest: str) -> Caller:
    return parse_tokens_file(f"Zhang Min: {TOKEN}{rest}\n")[TOKEN]


def test_role_words_after_the_token() -> None:
    assert line("") == Caller("Zhang Min", "analyst", Access(label="analyst"), via="token")
    manager = line(" manager 部门=研发部")
    assert (manager.role, manager.access.mode) == ("manager", "protected")
    assert manager.access.rows == (("部门", ("研发部",)),)
    assert manager.access.hidden_columns == ("pay",)  # a manager's default: no pay columns
    quoted = line(' manager Department="Research & Development",QA hide=pay,PerformanceRating  # two teams')
    assert quoted.access.rows == (("Department", ("Research & Development", "QA")),)
    assert quoted.access.hidden_columns == ("pay", "PerformanceRating")
    assert line(" manager team=night hide=none").access.hidden_columns == ()
    assert line(" viewer").access == NO_DATA and line(" viewer").role == "viewer"
    refused = {
        " manager": "needs a row scope",
        " analyst department=Sales": "row scopes are for managers",
        " viewer department=Sales": "reads no data",
        " boss": "is not a role",
        " role=manager department=Sales": "as a word after the token",
        ' manager department="Sales': "quote is not closed",
        " manager department=": "column=value",
    }
    for rest, needle in refused.items():
        with pytest.raises(ValueError, match=needle) as caught:
            line(rest)
        assert TOKEN not in str(caught.value) and "line 1 (Zhang Min)" in str(caught.value)


def test_one_access_contains_another_only_when_nothing_is_widened() -> None:
    rd = Access.for_manager({"Department": "R&D"}, ["pay"])
    rd_qa = Access.for_manager({"Department": ["R&D", "QA"]}, ["pay"])
    sales = Access.for_manager({"Department": "Sales"}, ["pay"])
    assert EVERYTHING.contains(rd) and EVERYTHING.contains(sales) and EVERYTHING.contains(EVERYTHING)
    assert not rd.contains(EVERYTHING) and not rd.contains(sales) and not rd.contains(rd_qa)
    assert rd_qa.contains(rd) and rd.contains(rd)
    assert rd.contains(Access.for_manager({"department ": " r&d "}, ["Pay"]))  # spelling of column and value
    assert not rd.contains(Access.for_manager({"Department": "R&D"}, []))  # pay shown there
    assert not rd.contains(Access(rows=rd.rows, hidden_columns=rd.hidden_columns))  # exact figures, mode unset
    assert rd.contains(Access(rows=rd.rows, hidden_columns=rd.hidden_columns), server_mode="protected")
    assert not NO_DATA.contains(EVERYTHING) and not NO_DATA.contains(rd)
    assert Access.from_record(rd.record()) == Access(mode="protected", rows=rd.rows, hidden_columns=("pay",))
    assert Access.from_record(None) == EVERYTHING


def test_a_server_side_step_may_narrow_the_caller_never_widen() -> None:
    analyst = Caller("ana")
    manager = Caller("rd", "manager", Access.for_manager({"Department": "R&D"}, ["pay"]))
    with narrowed(analyst, manager.access) as acting:
        assert current_caller() == acting and acting.name == "ana" and acting.access == manager.access
    assert current_caller().access == EVERYTHING  # the OS user again, outside the block
    with pytest.raises(PermissionError), narrowed(manager, EVERYTHING):
        pass


def company() -> pd.DataFrame:
    """Twelve people in two departments; R&D's pay and a missing hire date, Sales' unparseable date."""
    rows = []
    for i in range(12):
        rows.append({"Department": "R&D" if i < 6 else "Sales", "JobRole": f"role {i % 3}",
                     "MonthlyIncome": 5000 + 100 * i, "DailyRate": 800 + i, "Engagement": 3 + i % 2,
                     "HireDate": "2020-01-15" if i not in (2, 8) else ("" if i == 2 else "not a date"),
                     "TermDate": "2024-03-01" if i % 4 == 0 else ""})
    return pd.DataFrame(rows)


def test_the_intake_cuts_a_file_to_the_callers_rows_and_columns_and_counts_only_them() -> None:
    whole = dataset_from_frame(company(), SETTINGS)
    assert {f.check for f in whole.findings} >= {"unparseable_dates", "missing_hire_dates"}
    manager = Access.for_manager({"department": "r&d"}, ["pay"], label="manager: Department = R&D")
    seen = within_access(whole, manager, SETTINGS)
    assert seen.rows == 6 and set(seen.frame["Department"]) == {"R&D"}
    assert "MonthlyIncome" not in seen.columns and "DailyRate" not in seen.columns  # the pay class, by role and word
    assert list(seen.frame["Department"].cat.categories if isinstance(seen.frame["Department"].dtype,
                                                                         pd.CategoricalDtype) else ["R&D"]) == ["R&D"]
    # Data-quality counts are about R&D's rows: its missing hire date, not Sales' unparseable one.
    checks = {f.check: f.count for f in seen.findings}
    assert checks.get("missing_hire_dates") == 1 and "unparseable_dates" not in checks
    assert seen.leaver.sum() == 2 and seen.as_of == whole.as_of
    with pytest.raises(InputError, match="not available to your access"):
        seen.column("MonthlyIncome", purpose="a breakdown dimension")
    with pytest.raises(InputError, match="not available to your access"):
        within_access(whole, manager, SETTINGS, column_map={"pay": "DailyRate"})
    with pytest.raises(InputError, match="no rows within your access"):
        within_access(whole, Access.for_manager({"Department": "QA"}), SETTINGS)
    with pytest.raises(InputError, match="has no 'Team' column"):
        within_access(whole, Access.for_manager({"Team": "night"}), SETTINGS)
    with pytest.raises(InputError, match="reads no data files"):
        within_access(whole, NO_DATA, SETTINGS)


def test_oauth_settings_that_stop_the_start() -> None:
    from retention_mcp.http import caller_verifier, check_serving_settings

    base = Settings(data_dirs=(), log_level="WARNING", host="0.0.0.0")
    check_serving_settings(base.with_(oauth_issuer="https://login.example.com/realms/hr"))  # enough beyond loopback
    refused = {
        "oauth_issuer=ftp://login.example.com": "issuer URL",
        "oauth_issuer=http://login.example.com": "must use https",
        "oauth_issuer=https://login.example.com?x=1": "issuer URL",
        "oauth_roles=retention:analyst=boss": "scope=role",
        "oauth_roles=,": "maps no scope",
    }
    for change, needle in refused.items():
        key, _, value = change.partition("=")
        with pytest.raises(ValueError, match=needle):
            caller_verifier(base.with_(**{"oauth_issuer": "https://login.example.com", key: value}), {})
    with pytest.raises(ValueError, match="full URL"):
        check_serving_settings(base.with_(token="x" * 20, public_url="hr.example.com/mcp"))
    verifier = caller_verifier(base.with_(oauth_issuer="https://login.example.com/realms/hr",
                                          public_url="https://hr.example.com/mcp",
                                          oauth_roles="hr.read=viewer,hr.admin=analyst"), {})
    assert verifier.jwt.config.audience == "https://hr.example.com/mcp"  # the public URL, unless told otherwise
    assert verifier.jwt.config.scope_roles == {"hr.read": "viewer", "hr.admin": "analyst"}
